"""Cross-matches that grow (issue 22): a run over a grown radio catalogue matches only what is new.

Real ingests of the Sydney Radio Star Catalogue (SRSC, region by region) and Hipparcos 2 into a lake on the
local filesystem, the real job on local Spark: three regional runs, each after its region's ingest, each
matching only its region's new radio rows and carrying the earlier regions on (crossmatch.carry), end with
the pairs, best matches, offset-sky statistics and radio rows of one run over the union, every value to the
bit: the association prior too, fitted over the catalogue so far."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from radiolake.crossmatch.increment import (
    SETTINGS,
    footprint_of,
    partitions_in,
    plan_increment,
    region_pixels,
    region_pixels_of,
)
from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.run_params import CrossmatchParams
from tests.unit.conftest_spark import spark  # noqa: F401  (re-exported fixture)

#: Three order-0 pixels of the sky, one per regional ingest (SRSC stars in each).
REGIONS = ("healpix:0:4", "healpix:0:5", "healpix:0:6")
#: The stars: first the order-1 pixels of the three regions but two of the last (26, 27), later those two.
STARS_FIRST, STARS_LATER = "healpix:1:" + ",".join(map(str, range(16, 26))), "healpix:1:26,27"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))


def _ingest(root: Path, survey: str, file: Path, region: str, name: str):
    return ingest_survey(survey, path=file, region=region, name=name, fs=pafs.LocalFileSystem(),
                         catalogs_root=str(root / "catalogs"), raw_root=str(root / "raw"), max_rows_per_partition=60)


def _run(root: Path, run_id: str, **options) -> dict:
    crossmatch_run_params(CrossmatchParams(str(root / "catalogs" / "srsc"), str(root / "catalogs" / "hip2"),
                                           radius_arcsec=10.0, n_sigma=None, offsets=4, offset_arcmin=3.0,
                                           out=str(root / "xmatch" / run_id), run_id=run_id, **options))
    return json.loads((root / "xmatch" / run_id / "run.json").read_text())


def _rows(root: Path, run_id: str, table: str) -> list[tuple]:
    """The run's rows of `table` (but the run id), sorted: exact, the same rows give the same bits."""
    t = pq.read_table(root / "xmatch" / run_id / table)
    keep = [c for c in t.column_names if c != "run_id"]
    return sorted((tuple(row.values()) for row in t.select(keep).to_pylist()), key=repr)


def _planned_carry(root: Path, earlier: dict, radio_version: str, run_id: str):
    stars = earlier["catalog_versions"]["stars"]
    increment = plan_increment({"catalog": "srsc", "version": radio_version}, stars,
                               (str(root / "catalogs" / "srsc"), str(root / "catalogs" / "hip2")),
                               str(root / "xmatch" / run_id), run_id, {k: earlier[k] for k in SETTINGS})
    assert increment.carry is not None and increment.carry.run_id == earlier["run_id"]
    return increment.carry


def test_region_pixels_and_footprint_of_partitions():
    parts = [{"order": 1, "pixel": 20}, {"order": 5, "pixel": 7 * 4**5 + 3}]
    assert region_pixels_of(parts, 3).tolist() == [*range(20 * 16, 21 * 16), 7 * 4**3]
    assert partitions_in(parts, np.array([7 * 4**3]), 3) == parts[1:]
    assert partitions_in(parts, np.array([20 * 16 + 5]), 3) == parts[:1]
    shift = 2 * (29 - 3)
    assert footprint_of(np.array([3, 4, 9]), 3) == {"order": 29, "ranges": [[3 << shift, 5 << shift],
                                                                           [9 << shift, 10 << shift]]}
    assert region_pixels("healpix:0:5", 3).tolist() == list(range(5 * 64, 6 * 64))


def test_regional_runs_match_only_what_is_new_and_equal_one_run_over_the_union(spark, tmp_path,  # noqa: F811
                                                                                  shared_data):
    hip2 = shared_data / "hip2_epoch1991.25.csv.gz"
    _ingest(tmp_path, "hip2_csv", hip2, STARS_FIRST, "hip2")
    fs, base = pafs.LocalFileSystem(), str(tmp_path / "catalogs" / "srsc")
    runs, versions = [], []
    for k, region in enumerate(REGIONS, start=1):
        versions.append(_ingest(tmp_path, "srsc", shared_data / "SRSC_distances.csv", region, "srsc").version)
        if k == 3:  # a run that chose to carry r2 on, while r3 ran and finished
            late = _planned_carry(tmp_path, runs[-1], versions[-1], "late")
            late.check_still_newest("late")  # r2 is still the newest: nothing to say
        runs.append(_run(tmp_path, f"r{k}"))
    with pytest.raises(RuntimeError, match="run r3 of srsc x hip2 finished while run late ran"):
        late.check_still_newest("late")
    first, second, third = runs
    assert "increment" not in first["catalog_versions"]["radio"]  # nothing matched before: every row
    for k, run in ((1, second), (2, third)):
        inc = run["catalog_versions"]["radio"]["increment"]
        assert inc["after_run"] == f"r{k}" and inc["after_version"] == versions[k - 1]
        assert run["catalog_versions"]["radio"]["version"] == versions[k]
        # only the partitions of this region are new, and the run matched those rows and no other
        info = cat.open_catalog(fs, base, versions[k])
        pixel = 4 + k
        in_region = [p for p in info.partitions if region_pixels_of([p], 0).tolist() == [pixel]]
        assert inc["new_partitions"] == inc["partitions"] == len(in_region) < len(info.partitions)
        radio = cat.read_catalog(fs, base, columns=["healpix"], version=versions[k])
        n_region = pc.sum(pc.equal(pc.shift_right(radio.column("healpix"), 58), pixel)).as_py()
        assert run["n_radio"] + run["n_radio_quarantined"] == n_region < radio.num_rows
        assert all(pixel << 58 <= lo < hi <= (pixel + 1) << 58 for lo, hi in inc["footprint"]["ranges"])

    assert (second["catalog_versions"]["radio"]["increment"]["carried_from"],
            third["catalog_versions"]["radio"]["increment"]["carried_from"]) == ("r1", "r2")
    union = _run(tmp_path, "union", only_new=False)
    assert "increment" not in union["catalog_versions"]["radio"]
    assert union["catalog_versions"]["radio"]["version"] == versions[-1]
    assert union["n_radio"] == sum(r["n_radio"] for r in runs) and union["n_pairs"] == third["n_pairs"] > 100
    assert union["association_prior"] == third["association_prior"]
    for table in ("pairs", "best", "offset_stats", "radio_sources", "stars"):
        got, want = _rows(tmp_path, "r3", table), _rows(tmp_path, "union", table)
        assert got == want, (f"{table}: {len(set(got) - set(want))} rows only in the regional runs, "
                             f"{len(set(want) - set(got))} only in the union")
    # the third run's footprint: the regions it matched and those it carried on (every region with sources)
    shift = 2 * (29 - third["region_order"])
    covered = {lo >> shift for lo, _ in third["footprint"]["ranges"]} | {hi - 1 >> shift for _, hi in
                                                                          third["footprint"]["ranges"]}
    assert {p >> 2 * (third["region_order"]) for p in covered} == {4, 5, 6}

    # asked again for the same versions (nothing new): a whole run, the union's rows
    again = _run(tmp_path, "again")
    assert "increment" not in again["catalog_versions"]["radio"]
    assert _rows(tmp_path, "again", "pairs") == _rows(tmp_path, "union", "pairs")
    # a rerun of one region (only_new off, a region): that region's partitions only, the rest carried on
    rerun = _run(tmp_path, "rerun", only_new=False, region=REGIONS[1])
    inc = rerun["catalog_versions"]["radio"]["increment"]
    assert (inc["rerun_of_region"], inc["carried_from"]) == (REGIONS[1], "again")
    assert rerun["n_radio"] == second["n_radio"]
    for table in ("pairs", "best", "offset_stats", "radio_sources"):  # the same rows read: every value the same
        assert _rows(tmp_path, "rerun", table) == _rows(tmp_path, "again", table)

    # The stars grow (two order-1 pixels of region 3): the radio regions next to the new star partitions are
    # matched again, no other; with the rest carried on, the run equals a whole run over the new star version.
    _ingest(tmp_path, "hip2_csv", hip2, STARS_LATER, "hip2")
    grown = _run(tmp_path, "stars2")
    inc = grown["catalog_versions"]["radio"]["increment"]
    assert (inc["after_run"], inc["carried_from"], inc["new_partitions"], inc["gone_partitions"]) == (
        "rerun", "rerun", 0, 0)
    assert inc["new_star_partitions"] > 0 and 0 < inc["partitions"] < inc["of_partitions"]
    assert grown["n_radio"] < union["n_radio"]  # matched only the regions next to the new stars
    _run(tmp_path, "stars2-whole", only_new=False)
    for table in ("pairs", "best", "offset_stats", "radio_sources", "stars"):
        assert _rows(tmp_path, "stars2", table) == _rows(tmp_path, "stars2-whole", table), table
    assert _rows(tmp_path, "stars2", "pairs") != _rows(tmp_path, "again", "pairs")  # the new stars matched


def test_the_load_takes_an_increments_footprint_as_the_runs():
    from radiolake.warehouse.footprints import add_footprint

    footprint = footprint_of(np.array([320, 321]), 3)
    run = {"catalog_versions": {"radio": {"catalog": "srsc", "version": "v2", "increment": {
        "after_run": "r1", "footprint": footprint}}}}
    add_footprint(run, None)
    assert run["footprint"]["ranges"] == footprint["ranges"] and run["footprint"]["order"] == 29
    whole = {"catalog_versions": {"radio": {"catalog": "srsc", "version": "v2"}}}
    add_footprint(whole, None)  # no increment and no lake to read the coverage from: none (the whole sky)
    assert "footprint" not in whole
