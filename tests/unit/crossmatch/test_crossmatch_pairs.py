"""The pair search (numpy core, partitioned exactly as the Spark job) against astropy search_around_sky.

Skies are clusters placed where partitioning is hardest: the poles, RA 0/360, and HEALPix pixel corners at
the join order; radio rows carry their own epochs and some stars move fast or have no proper motion.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from cdshealpix import nested
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from radiolake.crossmatch.core import crossmatch_frames
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs, catalogue, cluster


def corner_of_pixel(order: int, seed: int) -> tuple[float, float]:
    """A vertex of a random pixel at `order`: four (or three) join partitions meet there."""
    rng = np.random.default_rng(seed)
    pix = np.array([rng.integers(0, 12 * 4**order)], dtype=np.uint64)
    lon, lat = nested.vertices(pix, order)
    k = int(rng.integers(0, 4))
    return float(lon.deg[0, k]), float(lat.deg[0, k])


def make_sky(seed: int, where: str, n_radio: int, n_star: int, size_arcsec: float, fast_fraction: float):
    rng = np.random.default_rng(seed)
    if where == "north_pole":
        ra0, dec0 = rng.uniform(0, 360), 90.0 - rng.uniform(0, 0.01)
    elif where == "south_pole":
        ra0, dec0 = rng.uniform(0, 360), -90.0 + rng.uniform(0, 0.01)
    elif where == "ra0":
        ra0, dec0 = rng.choice([0.0, 359.9999, 0.0001]), rng.uniform(-80, 80)
    elif where == "corner":
        ra0, dec0 = corner_of_pixel(int(rng.integers(3, 9)), seed)
    else:
        ra0, dec0 = rng.uniform(0, 360), np.degrees(np.arcsin(rng.uniform(-1, 1)))
    rra, rdec = cluster(rng, n_radio, ra0, dec0, size_arcsec)
    sra, sdec = cluster(rng, n_star, ra0, dec0, size_arcsec)
    radio = catalogue(
        "radio",
        rra,
        rdec,
        rng.uniform(1985.0, 2025.0, n_radio),
        ra_error=rng.uniform(0.1, 3, n_radio),
        dec_error=rng.uniform(0.1, 3, n_radio),
    )
    pm = rng.normal(0, 200, (2, n_star))
    fast = rng.random(n_star) < fast_fraction
    pm[:, fast] *= 20  # a few arcsec per year
    no_pm = rng.random(n_star) < 0.15
    pm[:, no_pm] = np.nan
    stars = catalogue(
        "star", sra, sdec, rng.choice([1991.25, 2016.0], n_star), ra_error=0.05, dec_error=0.05, pmra=pm[0], pmdec=pm[1]
    )
    return radio, stars


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31),
    where=st.sampled_from(["north_pole", "south_pole", "ra0", "corner", "random"]),
    n_radio=st.integers(1, 120),
    n_star=st.integers(1, 250),
    size=st.floats(5, 200),
    radius=st.floats(0.5, 30),
    fast=st.sampled_from([0.0, 0.05]),
    finest=st.booleans(),
)
def test_pair_set_equals_astropy(seed, where, n_radio, n_star, size, radius, fast, finest):
    radio, stars = make_sky(seed, where, n_radio, n_star, size, fast)
    # the finest legal join order puts the most pairs across partition edges
    res = crossmatch_frames(radio, stars, radius, **({"max_join_order": 29} if finest else {}))
    pairs = res["pairs"]
    assert_same_pairs(pairs, astropy_pairs(radio, stars, radius), radius)
    # ranks are 1..n per radio source, by separation
    for _, g in pairs.groupby("radio_id"):
        assert list(g.sort_values("rank")["rank"]) == list(range(1, len(g) + 1))
        assert g.sort_values("rank")["separation_arcsec"].is_monotonic_increasing
    # stars without proper motion are matched where they are, and flagged
    no_pm = set(stars.loc[stars["pmra"].isna(), "source_id"])
    assert all(not applied for sid, applied in zip(pairs["star_id"], pairs["pm_applied"], strict=True) if sid in no_pm)


@pytest.mark.parametrize("where", ["north_pole", "south_pole", "ra0", "corner"])
def test_dense_cluster_at_hard_places_with_finest_join_order(where):
    """Many pairs per source, partitions as small as allowed: still exactly astropy's set."""
    radio, stars = make_sky(7, where, 300, 800, 40.0, 0.02)
    res = crossmatch_frames(radio, stars, 8.0, max_join_order=29)
    expected = astropy_pairs(radio, stars, 8.0)
    assert len(expected) > 500
    assert_same_pairs(res["pairs"], expected, 8.0)


def test_n_sigma_criterion_matches_the_combined_error_definition():
    """n-sigma only: pair kept iff its tangent-plane offset is within n sigma of radio (+) star errors."""
    from astropy.coordinates import SkyCoord

    radio, stars = make_sky(11, "random", 150, 300, 30.0, 0.0)
    res = crossmatch_frames(radio, stars, None, n_sigma=2.0)
    plan = res["plan"]
    candidates = astropy_pairs(radio, stars, plan.criteria.search_arcsec)
    r = radio.set_index("source_id")
    s = stars.set_index("source_id")
    expected = set()
    for (rid, sid), _sep in candidates.items():
        rr, ss = r.loc[rid], s.loc[sid]
        dt = rr.epoch - ss.epoch
        pmra = 0.0 if np.isnan(ss.pmra) else ss.pmra
        pmdec = 0.0 if np.isnan(ss.pmdec) else ss.pmdec
        c = SkyCoord(ss.ra * u.deg, ss.dec * u.deg)
        c = c.spherical_offsets_by(pmra * dt * u.mas, pmdec * dt * u.mas) if dt and pmra + pmdec else c
        dra, ddec = SkyCoord(rr.ra * u.deg, rr.dec * u.deg).spherical_offsets_to(c)
        sig = np.hypot(
            dra.to_value(u.arcsec) / np.hypot(rr.ra_error, ss.ra_error),
            ddec.to_value(u.arcsec) / np.hypot(rr.dec_error, ss.dec_error),
        )
        if sig <= 2.0 - 1e-3:
            expected.add((rid, sid))
        elif sig <= 2.0 + 1e-3:
            expected.add((rid, sid, "edge"))
    got = set(zip(res["pairs"]["radio_id"], res["pairs"]["star_id"], strict=True))
    sure = {k for k in expected if len(k) == 2}
    edge = {k[:2] for k in expected if len(k) == 3}
    assert sure <= got
    assert got - sure <= edge
    assert (res["pairs"]["separation_sigma"] <= 2.0).all()
    assert len(sure) > 20


def test_radius_and_n_sigma_together_require_both():
    radio, stars = make_sky(5, "random", 100, 200, 30.0, 0.0)
    both = crossmatch_frames(radio, stars, 5.0, n_sigma=1.5)["pairs"]
    only_r = crossmatch_frames(radio, stars, 5.0)["pairs"]
    assert len(both) < len(only_r)
    assert (both["separation_arcsec"] <= 5.0).all() and (both["separation_sigma"] <= 1.5).all()
    expect = only_r[only_r["separation_sigma"] <= 1.5]
    assert set(zip(both.radio_id, both.star_id, strict=True)) == set(zip(expect.radio_id, expect.star_id, strict=True))


def test_parameters_are_checked():
    radio, stars = make_sky(1, "random", 5, 5, 10.0, 0.0)
    with pytest.raises(ValueError, match="radius"):
        crossmatch_frames(radio, stars, None, None)
    with pytest.raises(ValueError, match="positive"):
        crossmatch_frames(radio, stars, -1.0)
    with pytest.raises(ValueError, match="too fine"):
        crossmatch_frames(radio, stars, 60.0, join_order=14)
