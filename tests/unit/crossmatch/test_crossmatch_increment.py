"""Cross-matches that grow (issue 22): a run over a grown radio catalogue matches only what is new.

Real ingests of the Sydney Radio Star Catalogue (SRSC, region by region) and Hipparcos 2 into a lake on the
local filesystem, the real job on local Spark: three regional runs, each after its region's ingest, give
the pairs, best matches and offset-sky statistics of one run over the union (but the association
probability, whose prior a run measures over all it read: RUN_MEASURED), and each run after the first matched
only its region's new radio rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from radiolake.crossmatch.increment import footprint_of, partitions_in, region_pixels, region_pixels_of
from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.run_params import CrossmatchParams
from tests.unit.conftest_spark import spark  # noqa: F401  (re-exported fixture)

#: Three order-0 pixels of the sky, one per regional ingest (SRSC stars in each).
REGIONS = ("healpix:0:4", "healpix:0:5", "healpix:0:6")
#: The stars: first the order-1 pixels of the three regions but two of the last (26, 27), later those two.
STARS_FIRST, STARS_LATER = "healpix:1:" + ",".join(map(str, range(16, 26))), "healpix:1:26,27"
#: The one column measured over everything a run read: the association prior comes from all its radio sources
#: (crossmatch.priors), so a run over part of the sky measures it over that part; the same rows read again give
#: the same values (checked below). The stellar density of a population class, p_chance and the likelihood
#: ratio are measured over the radio source's statistics region (density.region_shares): equal to the bit.
RUN_MEASURED = {"association_probability"}


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


def _rows(root: Path, runs: list[str], table: str, drop: set[str] = RUN_MEASURED) -> set[tuple]:
    out = set()
    for run_id in runs:
        t = pq.read_table(root / "xmatch" / run_id / table)
        keep = [c for c in t.column_names if c not in drop | {"run_id"}]
        for row in t.select(keep).to_pylist():
            out.add(tuple(row.values()))  # exact: the same rows of a region give the same bits
    return out


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
        runs.append(_run(tmp_path, f"r{k}"))
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

    union = _run(tmp_path, "union", only_new=False)
    assert "increment" not in union["catalog_versions"]["radio"]
    assert union["catalog_versions"]["radio"]["version"] == versions[-1]
    assert union["n_radio"] == sum(r["n_radio"] for r in runs) and union["n_pairs"] > 100
    regional = ["r1", "r2", "r3"]
    for table in ("pairs", "best", "offset_stats", "radio_sources"):
        got, want = _rows(tmp_path, regional, table), _rows(tmp_path, ["union"], table)
        assert got == want, (f"{table}: {len(got - want)} rows only in the regional runs, "
                             f"{len(want - got)} only in the union")

    # asked again for the same versions (nothing new): a whole run, the union's rows
    again = _run(tmp_path, "again")
    assert "increment" not in again["catalog_versions"]["radio"]
    assert _rows(tmp_path, ["again"], "pairs") == _rows(tmp_path, ["union"], "pairs")
    # a rerun of one region (only_new off, a region): that region's partitions only
    rerun = _run(tmp_path, "rerun", only_new=False, region=REGIONS[1])
    assert rerun["catalog_versions"]["radio"]["increment"]["rerun_of_region"] == REGIONS[1]
    assert rerun["n_radio"] == second["n_radio"]
    for table in ("pairs", "best", "offset_stats"):  # the same rows read: every value the same
        assert _rows(tmp_path, ["rerun"], table, set()) == _rows(tmp_path, ["r2"], table, set())

    # The stars grow (two order-1 pixels of region 3): the radio regions next to the new star partitions are
    # matched again, no other; their pairs are a whole run's over the new star version, the others' unchanged.
    _ingest(tmp_path, "hip2_csv", hip2, STARS_LATER, "hip2")
    grown = _run(tmp_path, "stars2")
    inc = grown["catalog_versions"]["radio"]["increment"]
    assert (inc["after_run"], inc["new_partitions"], inc["gone_partitions"]) == ("again", 0, 0)
    assert inc["new_star_partitions"] > 0 and 0 < inc["partitions"] < inc["of_partitions"]
    _run(tmp_path, "stars2-whole", only_new=False)
    radio = cat.read_catalog(fs, base, columns=["source_id", "healpix"], version=versions[-1])
    lo_hi = np.array(inc["footprint"]["ranges"], np.int64)
    healpix = radio.column("healpix").to_numpy()
    inside = ((healpix[:, None] >= lo_hi[:, 0]) & (healpix[:, None] < lo_hi[:, 1])).any(axis=1)
    ids = np.array(radio.column("source_id").to_pylist(), object)
    for run_id, part in (("stars2", set(ids[inside])), ("again", set(ids[~inside]))):
        want = {r for r in _rows(tmp_path, ["stars2-whole"], "pairs") if r[0] in part}
        assert {r for r in _rows(tmp_path, [run_id], "pairs") if r[0] in part} == want and want, run_id


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
