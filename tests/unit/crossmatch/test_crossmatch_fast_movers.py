"""Fast movers on a Gaia-like sky: the engine's pair set equals the rigorous reference.

Stars at J2016 with proper motions up to 10"/yr, radio epochs uniform in 1993-2024: a fast star moves up to
~4' between its epoch and a radio epoch, far beyond the slow stars' reach, so it must be found by the fast
movers' own star-side search. The reference moves every candidate with astropy's `apply_space_motion` (3-D
space motion, ERFA pmsafe) and measures astropy separations; it shares no code with the engine.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time

from radiolake.crossmatch.core import crossmatch_frames
from tests.unit.crossmatch.drivers import spark_run
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs, catalogue, cluster

RADIUS = 2.0


def gaia_like_sky(seed: int, where: tuple[float, float] = (150.0, 20.0)):
    """Stars in a ~10' patch, 3% fast (1-10"/yr); radio sources at fast stars' positions at their own
    epoch (so the fast movers do match, often across the patch), at slow stars, and at random."""
    rng = np.random.default_rng(seed)
    n_star, n_radio = 1000, 400
    sra, sdec = cluster(rng, n_star, *where, 300.0)
    pm = rng.normal(0, 8, (2, n_star))
    fast = rng.random(n_star) < 0.03
    speed = rng.uniform(1000, 10000, fast.sum())
    angle = rng.uniform(0, 2 * np.pi, fast.sum())
    pm[0, fast], pm[1, fast] = speed * np.sin(angle), speed * np.cos(angle)
    stars = catalogue("gaia", sra, sdec, 2016.0, ra_error=0.0002, dec_error=0.0002, pmra=pm[0], pmdec=pm[1])
    epoch = rng.uniform(1993.0, 2024.0, n_radio)
    host = np.concatenate([rng.choice(np.flatnonzero(fast), n_radio // 3), rng.choice(n_star, n_radio // 3)])
    c = SkyCoord(
        ra=sra[host] * u.deg,
        dec=sdec[host] * u.deg,
        pm_ra_cosdec=pm[0, host] * u.mas / u.yr,
        pm_dec=pm[1, host] * u.mas / u.yr,
        obstime=Time(np.full(host.size, 2016.0), format="jyear"),
        distance=1 * u.kpc,  # explicit (and zero RV): ERFA's substitute distance leaves stars unmoved near a pole
        radial_velocity=0 * u.km / u.s,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ERFA notes that the missing distance was overridden
        moved = c.apply_space_motion(new_obstime=Time(epoch[: host.size], format="jyear"))
    noise = rng.normal(0, 0.7, (2, host.size)) / 3600
    rra = np.concatenate([moved.ra.deg + noise[0] / np.cos(np.radians(moved.dec.deg)), np.zeros(0)])
    rdec = np.concatenate([moved.dec.deg + noise[1], np.zeros(0)])
    fra, fdec = cluster(rng, n_radio - host.size, *where, 300.0)
    radio = catalogue(
        "radio", np.r_[rra, fra], np.r_[rdec, fdec], epoch, ra_error=0.5, dec_error=0.5
    )
    return radio, stars


def test_fast_movers_equal_rigorous_space_motion_reference():
    radio, stars = gaia_like_sky(1)
    res = crossmatch_frames(radio, stars, RADIUS, n_offsets=2)
    expected = astropy_pairs(radio, stars, RADIUS)
    assert_same_pairs(res["pairs"], expected, RADIUS)
    plan = res["plan"]
    pm = np.hypot(stars["pmra"], stars["pmdec"]).to_numpy()
    fast_ids = set(stars["source_id"][pm * (2024 - 1993) / 1000 > plan.slow_limit_arcsec])
    n_fast_pairs = sum(sid in fast_ids for sid in res["pairs"]["star_id"])
    assert n_fast_pairs > 30  # the fast movers' own search found them...
    assert plan.reach_arcsec <= RADIUS + plan.slow_limit_arcsec < plan.max_displacement_arcsec  # ...not the reach
    far = res["pairs"][res["pairs"]["star_id"].isin(fast_ids)]
    assert (np.abs(far["dt_years"]) > 10).any()


def test_spark_job_finds_the_fast_movers_pairs(spark, tmp_path):
    radio, stars = gaia_like_sky(2, where=(0.02, -30.0))  # across RA 0/360 too
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.sort_values("healpix").to_parquet(tmp_path / "stars.parquet", row_group_size=250)
    summary = spark_run(
        spark, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"), str(tmp_path / "out"),
        radius_arcsec=RADIUS, n_offsets=2, chunk_rows=500,
    )
    got = pd.read_parquet(tmp_path / "out" / "pairs")
    assert_same_pairs(got, astropy_pairs(radio, stars, RADIUS), RADIUS)
    assert summary["n_fast_stars"] > 15 and summary["n_star_chunks"] > 1
    ref = crossmatch_frames(radio, stars, RADIUS, n_offsets=2)
    assert set(zip(got.radio_id, got.star_id, strict=True)) == set(
        zip(ref["pairs"].radio_id, ref["pairs"].star_id, strict=True)
    )
