"""Local stellar density, p_chance and the offset skies."""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.density import (
    class_counts,
    class_densities,
    density_from_counts,
    neighbourhood,
    p_chance,
    star_counts,
)
from radiolake.crossmatch.offsets import offset_position, offset_stats_frame, region_pixels
from radiolake.crossmatch.partitioning import home_pixels
from tests.unit.crossmatch.xmatch_skies import catalogue


def uniform_patch(rng, n, ra0=40.0, dec0=-30.0, half=2.0):
    dec = np.degrees(np.arcsin(rng.uniform(np.sin(np.radians(dec0 - half)), np.sin(np.radians(dec0 + half)), n)))
    return rng.uniform(ra0 - half, ra0 + half, n), dec


def test_density_of_a_uniform_field_is_recovered():
    rng = np.random.default_rng(0)
    ra, dec = uniform_patch(rng, 200_000)
    area = np.radians(4.0) * (np.sin(np.radians(-28.0)) - np.sin(np.radians(-32.0))) * (180 / np.pi) ** 2
    true = 200_000 / area
    pix, counts = star_counts(ra, dec, 7)
    probe_ra, probe_dec = uniform_patch(rng, 50, half=1.0)  # well inside: full neighbourhoods
    rho = density_from_counts(neighbourhood(probe_ra, probe_dec, 7), pix, counts, 7)
    assert np.all(np.abs(rho / true - 1) < 0.1), rho / true


def test_class_densities_of_a_region_do_not_depend_on_what_else_a_run_read():
    """Issue 22: a run over one statistics region and a run over it and another (with the other's stars, of
    other classes and counts) give the region's rows the same class densities, to the bit."""
    rng = np.random.default_rng(3)
    ra_a, dec_a = uniform_patch(rng, 40, ra0=40.0, dec0=-30.0, half=1.0)
    ra_b, dec_b = uniform_patch(rng, 40, ra0=70.0, dec0=10.0, half=1.0)
    s_ra_a, s_dec_a = uniform_patch(rng, 30_000, ra0=40.0, dec0=-30.0, half=2.5)
    s_ra_b, s_dec_b = uniform_patch(rng, 30_000, ra0=70.0, dec0=10.0, half=2.5)
    cls_a, cls_b = rng.integers(0, 3, s_ra_a.size), rng.integers(2, 6, s_ra_b.size)  # other classes near b

    def densities(ra, dec, s_ra, s_dec, cls):
        keys, counts = class_counts(home_pixels(s_ra, s_dec, 7), cls)
        return class_densities(neighbourhood(ra, dec, 7), keys, counts, 7, regions=region_pixels(ra, dec, 3))

    alone = densities(ra_a, dec_a, s_ra_a, s_dec_a, cls_a)
    both = densities(np.r_[ra_b, ra_a], np.r_[dec_b, dec_a], np.r_[s_ra_b, s_ra_a], np.r_[s_dec_b, s_dec_a],
                     np.r_[cls_b, cls_a])
    assert np.array_equal(both[ra_b.size:], alone)
    assert (alone[:, 1] > 0).all() and (alone[:, 4] == 0).all()  # a class only near b has no density near a
    # one statistics region for all rows (regions None): b's classes enter a's shares
    keys, counts = class_counts(home_pixels(np.r_[s_ra_b, s_ra_a], np.r_[s_dec_b, s_dec_a], 7), np.r_[cls_b, cls_a])
    pooled = class_densities(neighbourhood(np.r_[ra_b, ra_a], np.r_[dec_b, dec_a], 7), keys, counts, 7)
    assert not np.array_equal(pooled[ra_b.size:], alone) and (pooled[ra_b.size:, 4] > 0).all()


def test_p_chance_formula():
    np.testing.assert_allclose(p_chance(np.array([0.0, 3600.0]), np.array([5.0, 1 / np.pi])), [0.0, 1 - np.exp(-1)])


def test_offset_skies_are_shifted_by_the_offset_in_all_directions():
    ra, dec = np.array([0.01, 180.0, 33.0]), np.array([89.99, -45.0, 0.0])
    c = SkyCoord(ra * u.deg, dec * u.deg)
    angles = []
    for k in range(1, 9):
        ora, odec = offset_position(ra, dec, k, 8, 3.0)
        o = SkyCoord(ora * u.deg, odec * u.deg)
        np.testing.assert_allclose(c.separation(o).to_value(u.arcmin), 3.0, rtol=1e-9)
        angles.append(c[2].position_angle(o[2]).deg)
    np.testing.assert_allclose(np.diff(angles) % 360, 45.0, atol=1e-6)


def test_offset_sky_false_matches_agree_with_the_poisson_rate():
    rng = np.random.default_rng(5)
    sra, sdec = uniform_patch(rng, 40_000)
    rra, rdec = uniform_patch(rng, 4_000, half=1.5)
    stars = catalogue("s", sra, sdec, 2016.0)
    radio = catalogue("r", rra, rdec, 2020.0)
    res = crossmatch_frames(radio, stars, 10.0, n_offsets=8, offset_arcmin=4.0)
    st = res["offset_stats"]
    rho = len(stars) / (np.radians(4.0) * (np.sin(np.radians(-28.0)) - np.sin(np.radians(-32.0))) * (180 / np.pi) ** 2)
    for radius in (5.0, 10.0):
        expected = len(radio) * -np.expm1(-np.pi * (radius / 3600) ** 2 * rho)
        got = st.loc[st["radius_arcsec"] == radius, "expected_false_matches"].sum()
        total = st.loc[st["radius_arcsec"] == radius, "false_matches_total"].sum()
        assert abs(got - expected) < 4 * np.sqrt(expected / 8) + 1, (radius, got, expected)
        assert total == got * 8
    assert st.groupby("radius_arcsec")["n_radio"].sum().eq(len(radio)).all()
    # p_chance of real (here random) pairs follows from the same density
    pairs = res["pairs"]
    assert np.allclose(pairs["star_density_deg2"].median(), rho, rtol=0.15)


def test_offset_stats_count_sources_not_pairs():
    pairs = pd.DataFrame({"offset": [1, 1, 2], "radio_id": ["a", "a", "a"], "separation_arcsec": [1.0, 2.0, 4.0]})
    regions = pd.Series([7, 7], index=["a", "b"])
    st = offset_stats_frame(pairs, regions, 2, 4.0, 3, "r")
    assert st.set_index("radius_arcsec")["false_matches_total"].to_dict() == {1.0: 1, 2.0: 1, 3.0: 1, 4.0: 2}
    assert (st["n_radio"] == 2).all() and (st["expected_false_matches"] == st["false_matches_total"] / 2).all()
