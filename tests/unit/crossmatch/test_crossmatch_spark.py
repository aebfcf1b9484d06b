"""The Spark job end to end on local files: same pairs as the numpy core, every result table, reruns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.io import local_parquet_files
from radiolake.crossmatch.star_chunks import CatalogueError
from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from tests.unit.crossmatch.drivers import spark_run
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys).reset_index(drop=True)


def write_hats(df: pd.DataFrame, root, order: int = 3) -> None:
    """A HATS-like folder: one Parquet file per pixel at `order`."""
    pix = df["healpix"].to_numpy() >> (2 * (29 - order))
    for p in np.unique(pix):
        d = root / f"Norder={order}" / f"Dir={(p // 10_000) * 10_000}"
        d.mkdir(parents=True, exist_ok=True)
        df[pix == p].to_parquet(d / f"Npix={p}.parquet", index=False)


@pytest.mark.parametrize("where", ["north_pole", "ra0", "corner"])
def test_spark_job_equals_numpy_core_and_astropy(spark, tmp_path, where):
    radio, stars = make_sky(3, where, 200, 400, 60.0, 0.03)
    radio.to_parquet(tmp_path / "radio.parquet")
    write_hats(stars, tmp_path / "stars")
    out = tmp_path / "run"
    summary = spark_run(
        spark,
        str(tmp_path / "radio.parquet"),
        str(tmp_path / "stars"),
        str(out),
        radius_arcsec=6.0,
        n_offsets=4,
        offset_arcmin=2.0,
        run_id="r1",
    )
    ref = crossmatch_frames(radio, stars, 6.0, n_offsets=4, offset_arcmin=2.0, run_id="r1")
    got = pd.read_parquet(out / "pairs")
    assert pq.read_schema(next((out / "pairs").glob("*.parquet"))).names == PAIRS_SCHEMA.names
    keys = ["radio_id", "star_id"]
    pd.testing.assert_frame_equal(_sorted(got, keys), _sorted(ref["pairs"], keys), check_dtype=False)
    assert_same_pairs(got, astropy_pairs(radio, stars, 6.0), 6.0)
    best = pd.read_parquet(out / "best")
    assert set(best["radio_id"]) == set(got["radio_id"]) and (best["rank"] == 1).all()
    stats = pd.read_parquet(out / "offset_stats")
    assert list(stats.columns) == OFFSET_STATS_SCHEMA.names
    rk = ["region_pixel", "radius_arcsec"]
    pd.testing.assert_frame_equal(_sorted(stats, rk), _sorted(ref["offset_stats"], rk), check_dtype=False)
    assert set(pd.read_parquet(out / "radio_sources")["source_id"]) == set(got["radio_id"])
    matched_stars = pd.read_parquet(out / "stars")
    assert set(matched_stars["source_id"]) == set(got["star_id"])
    assert (matched_stars["survey"] == "stars").all()
    run = json.loads((out / "run.json").read_text())
    assert run == json.loads(json.dumps(summary))
    assert run["n_pairs"] == len(got) and run["n_best"] == len(best) and run["n_radio"] == 200


def test_k_nearest_rerun_and_quarantine(spark, tmp_path):
    radio, stars = make_sky(9, "random", 150, 500, 30.0, 0.0)
    bad = radio.iloc[:2].copy()
    bad["source_id"] = ["radio:bad0", "radio:bad1"]
    bad.loc[bad.index[0], "ra"] = np.nan
    bad.loc[bad.index[1], "dec"] = 95.0
    pd.concat([radio, bad]).to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    out = tmp_path / "run"
    args = dict(radius_arcsec=8.0, k_nearest=2, run_id="k2")
    first = spark_run(spark, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"), str(out), **args)
    again = spark_run(spark, str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"), str(out), **args)
    pairs = pd.read_parquet(out / "pairs")
    ref = crossmatch_frames(radio, stars, 8.0, k_nearest=2, run_id="k2")["pairs"]
    assert len(pairs) == len(ref) == first["n_pairs"] == again["n_pairs"]  # a rerun replaces, never appends
    assert pairs["rank"].max() == 2
    q = pd.read_parquet(out / "quarantine" / "radio")
    assert sorted(q["source_id"]) == ["radio:bad0", "radio:bad1"]
    assert set(q["reason"]) == {"ra missing or outside [0, 360)", "dec missing or outside [-90, 90]"}
    assert first["n_radio_quarantined"] == 2


def test_only_star_files_near_the_radio_footprint_are_read(tmp_path):
    radio, stars = make_sky(4, "random", 20, 50, 30.0, 0.0)
    far = stars.copy()
    far["dec"] = -far["dec"]
    far["ra"] = (far["ra"] + 180) % 360
    from tests.unit.crossmatch.xmatch_skies import fine_healpix

    far["healpix"] = fine_healpix(far["ra"].to_numpy(), far["dec"].to_numpy())
    write_hats(pd.concat([stars, far]), tmp_path / "stars")
    all_files = local_parquet_files(tmp_path / "stars")
    near = radio["healpix"].to_numpy() >> (2 * (29 - 3))
    kept = local_parquet_files(tmp_path / "stars", coverage=(3, near))
    assert 0 < len(kept) < len(all_files)


def test_missing_columns_give_a_clear_error(spark, tmp_path):
    radio, stars = make_sky(2, "random", 5, 5, 10.0, 0.0)
    radio.drop(columns=["epoch"]).to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    with pytest.raises(CatalogueError, match="epoch"):
        spark_run(
            spark,
            str(tmp_path / "radio.parquet"),
            str(tmp_path / "stars.parquet"),
            str(tmp_path / "out"),
            radius_arcsec=5.0,
        )
