"""Real data: every SRSC radio detection of a known radio star against Hipparcos 2 (van Leeuwen 2007).

Each Hipparcos star (J1991.25) is moved to each detection's own epoch; the expected pair set comes from
astropy in the test. For scale, the issue states ~1,100 detections match at 5" without proper motion and
~1,500 with it. Data: Driessen et al. 2024 (PASA 41, e084); Hipparcos new reduction (VizieR I/311).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from astropy.time import Time

from radiolake.crossmatch.core import crossmatch_frames
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs, catalogue

RADIUS = 5.0


@pytest.fixture(scope="module")
def srsc_and_hip(shared_data):
    srsc = pd.read_csv(
        shared_data / "SRSC_distances.csv",
        usecols=["Radio_ra", "Radio_dec", "Radio_ra_err", "Radio_dec_err", "Radio_starttime_mjd"],
    )
    srsc = srsc.dropna(subset=["Radio_ra", "Radio_dec", "Radio_starttime_mjd"]).reset_index(drop=True)
    epoch = Time(srsc["Radio_starttime_mjd"].to_numpy(), format="mjd").jyear
    radio = catalogue(
        "srsc",
        srsc["Radio_ra"],
        srsc["Radio_dec"],
        epoch,
        ra_error=srsc["Radio_ra_err"],
        dec_error=srsc["Radio_dec_err"],
    )
    hip = pd.read_csv(shared_data / "hip2_epoch1991.25.csv.gz")
    stars = catalogue(
        "hip2",
        hip["ra_deg"],
        hip["dec_deg"],
        1991.25,
        ra_error=hip["e_RArad"] / 1000,
        dec_error=hip["e_DErad"] / 1000,
        pmra=hip["pmRA"],
        pmdec=hip["pmDE"],
    )
    stars["source_id"] = "hip2:" + hip["HIP"].astype(str)
    stars["parallax"] = hip["Plx"]
    return radio, stars


def test_srsc_against_hipparcos_equals_astropy(srsc_and_hip):
    radio, stars = srsc_and_hip
    res = crossmatch_frames(radio, stars, RADIUS)
    pairs = res["pairs"]
    assert_same_pairs(pairs, astropy_pairs(radio, stars, RADIUS), RADIUS)
    frozen = stars.assign(pmra=np.nan, pmdec=np.nan)
    still = crossmatch_frames(radio, frozen, RADIUS)["pairs"]
    assert_same_pairs(still, astropy_pairs(radio, frozen, RADIUS), RADIUS)
    n_moving, n_still = pairs["radio_id"].nunique(), still["radio_id"].nunique()
    assert 1300 <= n_moving <= 1700, n_moving
    assert 900 <= n_still <= 1300, n_still
    assert n_moving - n_still > 200  # proper motion recovers the nearby fast movers
    assert pairs["pm_applied"].all() and not still["pm_applied"].any()
    assert (pairs["dt_years"] > 20).all()  # ASKAP/VLA detections are decades after J1991.25


def test_srsc_spark_job_gives_the_core_pairs(spark, srsc_and_hip, tmp_path):
    from tests.unit.crossmatch.drivers import spark_run

    radio, stars = srsc_and_hip
    radio.to_parquet(tmp_path / "srsc.parquet")
    stars.to_parquet(tmp_path / "hip2.parquet")
    spark_run(
        spark,
        str(tmp_path / "srsc.parquet"),
        str(tmp_path / "hip2.parquet"),
        str(tmp_path / "run"),
        radius_arcsec=RADIUS,
        n_offsets=8,
    )
    got = pd.read_parquet(tmp_path / "run" / "pairs")
    ref = crossmatch_frames(radio, stars, RADIUS)["pairs"]
    assert set(zip(got.radio_id, got.star_id, strict=True)) == set(zip(ref.radio_id, ref.star_id, strict=True))
    stats = pd.read_parquet(tmp_path / "run" / "offset_stats")
    assert stats["n_offsets"].eq(8).all() and stats.query(f"radius_arcsec == {RADIUS}")["n_radio"].sum() == len(radio)
