"""One driver, two executors: Python's map in this process and Spark (local) write the same run folder from
the same input, quarantine included; and the kernels behind the one interface give the astropy pairs."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

from radiolake.crossmatch.executors import MapExecutor, PoolExecutor, SparkExecutor, task_groups
from radiolake.crossmatch.kernels import ConeTreeKernel, ZoneKernel
from radiolake.crossmatch.pairs import MatchCriteria
from tests.unit.crossmatch.drivers import run_on
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs

TABLES = ("pairs", "best", "offset_stats", "radio_sources", "stars", "quarantine/radio", "quarantine/stars")
#: Keys that identify a row of each table (rows come in any order from either executor).
ROW_KEYS = {"pairs": ["radio_id", "star_id"], "best": ["radio_id", "star_id"],
            "offset_stats": ["region_pixel", "radius_arcsec"], "radio_sources": ["source_id"],
            "stars": ["source_id"], "quarantine/radio": ["source_id"], "quarantine/stars": ["source_id"]}
#: run.json keys that measure the run rather than describe its result.
MEASURED = ("created_utc", "timings_s", "task_seconds")


def _sky_with_bad_rows(tmp_path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A sky across RA 0/360 with fast movers, offset skies, and invalid rows in both catalogues."""
    radio, stars = make_sky(11, "ra0", 250, 600, 60.0, 0.05)
    bad_radio = radio.iloc[:3].copy()
    bad_radio["source_id"] = ["radio:bad0", "radio:bad1", "radio:bad2"]
    bad_radio["ra"] = [np.nan, 360.5, 10.0]
    bad_radio["dec"] = [0.0, 0.0, -91.0]
    bad_stars = stars.iloc[:2].copy()
    bad_stars["source_id"] = ["star:bad0", "star:bad1"]
    bad_stars["epoch"] = np.nan  # same healpix as a good star: read by the same chunk, quarantined by it
    radio = pd.concat([radio, bad_radio], ignore_index=True)
    stars = pd.concat([stars, bad_stars], ignore_index=True)
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.sort_values("healpix").to_parquet(tmp_path / "stars.parquet", row_group_size=100)  # several chunks
    return radio, stars


def _read(folder, table: str) -> pd.DataFrame:
    df = pd.read_parquet(folder / table)
    return df.sort_values(ROW_KEYS[table]).reset_index(drop=True)[sorted(df.columns)]


def test_map_and_spark_executors_write_identical_runs(spark, tmp_path):
    radio, stars = _sky_with_bad_rows(tmp_path)
    args = dict(radius_arcsec=6.0, n_offsets=4, offset_arcmin=2.0, k_nearest=3, run_id="same", chunk_rows=200)
    inputs = (str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"))
    by_map = run_on(MapExecutor(), *inputs, str(tmp_path / "map"), **args)
    by_spark = run_on(SparkExecutor(spark), *inputs, str(tmp_path / "spark"), **args)
    for table in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path / "map", table), _read(tmp_path / "spark", table))
    run_map, run_spark = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("map", "spark"))
    assert {k: v for k, v in run_map.items() if k not in MEASURED} == \
        {k: v for k, v in run_spark.items() if k not in MEASURED}
    assert run_spark == json.loads(json.dumps(by_spark))  # run.json is the summary returned
    assert by_map["n_radio_quarantined"] == 3 and by_map["n_stars_quarantined"] == 2
    assert by_map["n_fast_stars"] > 0 and by_map["n_star_chunks"] > 1 and by_map["n_pairs"] > 0
    assert set(_read(tmp_path / "map", "quarantine/stars")["source_id"]) == {"star:bad0", "star:bad1"}
    good_radio = radio[~radio["source_id"].str.contains("bad")]
    good_stars = stars[~stars["source_id"].str.contains("bad")]
    pairs = pd.read_parquet(tmp_path / "spark" / "pairs")
    assert_same_pairs(pairs, _k_nearest(astropy_pairs(good_radio, good_stars, 6.0), 3), 6.0)


def _k_nearest(ref: dict[tuple[str, str], float], k: int) -> dict[tuple[str, str], float]:
    """The k nearest stars of each radio source of an astropy reference."""
    out, seen = {}, {}
    for (radio_id, star_id), sep in sorted(ref.items(), key=lambda kv: (kv[0][0], kv[1])):
        seen[radio_id] = seen.get(radio_id, 0) + 1
        if seen[radio_id] <= k:
            out[(radio_id, star_id)] = sep
    return out


@pytest.mark.parametrize("kernel", [ZoneKernel(), ConeTreeKernel()], ids=lambda k: type(k).__name__)
def test_each_kernel_gives_the_astropy_pairs(kernel):
    radio, stars = make_sky(5, "north_pole", 150, 300, 40.0, 0.0)
    r = {c: radio[c].to_numpy(float) for c in ("ra", "dec", "epoch", "ra_error", "dec_error")}
    s = {c: stars[c].to_numpy(float) for c in ("ra", "dec", "epoch", "pmra", "pmdec", "ra_error", "dec_error")}
    s["pmra_error"] = s["pmdec_error"] = np.full(len(stars), np.nan)
    r["key"], s["key"] = np.zeros(len(radio), np.int64), np.zeros(len(stars), np.int64)
    from radiolake.crossmatch.engine import displacement_arcsec

    disp = displacement_arcsec(s, r["epoch"].min(), r["epoch"].max())
    found = kernel.match(r, s, MatchCriteria(5.0, None, 5.0), disp)
    got = pd.DataFrame({"radio_id": radio["source_id"].to_numpy()[found["radio_idx"]],
                        "star_id": stars["source_id"].to_numpy()[found["star_idx"]],
                        "separation_arcsec": found["separation_arcsec"]})
    assert_same_pairs(got, astropy_pairs(radio, stars, 5.0), 5.0)


def test_task_groups_balance_rows_and_keep_every_item():
    groups = task_groups(list("abcdef"), [10, 9, 8, 3, 2, 1], parallelism=1)
    assert sorted(x for g in groups for x in g) == list("abcdef") and len(groups) == 2


def test_the_pool_of_local_workers_writes_the_map_executors_run(tmp_path):
    _sky_with_bad_rows(tmp_path)
    args = dict(radius_arcsec=6.0, n_offsets=4, offset_arcmin=2.0, k_nearest=3, run_id="same", chunk_rows=200)
    inputs = (str(tmp_path / "radio.parquet"), str(tmp_path / "stars.parquet"))
    run_on(MapExecutor(), *inputs, str(tmp_path / "map"), **args)
    with PoolExecutor(2) as pool:
        run_on(pool, *inputs, str(tmp_path / "pool"), **args)
        workers = set(pool.map(_where, None, list(range(8))))
    assert workers and os.getpid() not in workers  # the tasks ran in other processes
    for table in TABLES:
        pd.testing.assert_frame_equal(_read(tmp_path / "map", table), _read(tmp_path / "pool", table))
    run_map, run_pool = (json.loads((tmp_path / d / "run.json").read_text()) for d in ("map", "pool"))
    assert {k: v for k, v in run_map.items() if k not in MEASURED} == \
        {k: v for k, v in run_pool.items() if k not in MEASURED}
    assert run_pool["timings_s"]["outside_tasks"]["total"] > 0


def _where(_shared: object, _task: int) -> int:
    """A task that says where it ran (module level: the pool pickles it by name)."""
    return os.getpid()


def test_the_shared_value_falls_back_to_the_temporary_folder_when_dev_shm_is_full(monkeypatch):
    import pickle
    import tempfile

    from radiolake.crossmatch import executors

    dump, mkstemp, made = pickle.dump, tempfile.mkstemp, []

    def full_in_dev_shm(obj, f, protocol=None):
        if made[-1].startswith("/dev/shm/"):
            raise OSError(28, "No space left on device")  # as a container's 64 MB /dev/shm would
        dump(obj, f, protocol=protocol)

    def recorded(*args, **kwargs):
        fd, path = mkstemp(*args, **kwargs)
        made.append(path)
        return fd, path

    monkeypatch.setattr(executors.pickle, "dump", full_in_dev_shm)
    monkeypatch.setattr(executors.tempfile, "mkstemp", recorded)
    path = executors._shared_file({"ra": np.arange(3.0)})
    try:
        with open(path, "rb") as f:
            assert np.array_equal(pickle.load(f)["ra"], np.arange(3.0))
        assert path == made[-1] and os.path.dirname(path) == tempfile.gettempdir()
        assert not any(os.path.exists(p) for p in made[:-1])  # the file that failed is not left behind
    finally:
        os.unlink(path)
