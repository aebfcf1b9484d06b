"""Local stellar density, p_chance and the offset skies."""

from __future__ import annotations

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.density import density_from_counts, neighbourhood, p_chance, star_counts
from radiolake.crossmatch.offsets import offset_position, offset_stats_frame
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
