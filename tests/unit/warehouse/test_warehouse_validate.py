"""Validation of cross-match results folders before they may reach the warehouse (no database needed)."""

from __future__ import annotations

import json
import math

import cdshealpix.nested as healpix_nested
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from astropy import units as u
from astropy.coordinates import Latitude, Longitude

from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from radiolake.warehouse.sample_run import make_sample_tables, write_results
from radiolake.warehouse.tables import LOAD_TABLES
from radiolake.warehouse.validate import (
    ResultsValidationError,
    open_results,
    read_checked,
    read_results,
    validate,
)


@pytest.fixture(scope="module")
def sample():
    return make_sample_tables(300, seed=7, run_id="unit-run")


def _replace(table: pa.Table, name: str, values) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(name), pa.array(values, type=table.schema.field(name).type))


def _problems(run, tables) -> list[str]:
    with pytest.raises(ResultsValidationError) as info:
        validate("mem://test", run, tables)
    assert "nothing loaded" in str(info.value)
    return info.value.problems


def test_sample_run_validates_into_load_column_order(sample):
    tables, run = sample
    results = validate("mem://test", run, tables)
    assert results.run_id == "unit-run"
    for table in LOAD_TABLES:
        got = results.tables[table.name]
        assert got.column_names == table.column_names
        assert got.num_rows == tables[table.name].num_rows
        assert pc.all(pc.equal(got.column("run_id"), "unit-run")).as_py()
    # radio rows carry no run_id in the files: the loader adds it from run.json.
    assert "run_id" not in tables["radio_sources"].column_names


def test_missing_column_is_named(sample):
    tables, run = sample
    broken = dict(tables, pairs=tables["pairs"].drop_columns(["p_chance"]))
    problems = _problems(run, broken)
    assert problems == ["pairs: missing column(s) p_chance"]


def test_nan_and_null_keys_are_refused(sample):
    tables, run = sample
    sep = tables["best"].column("separation_arcsec").to_numpy().copy()
    sep[3] = np.nan
    radio_ids = tables["radio_sources"].column("source_id").to_pylist()
    radio_ids[0] = None
    broken = dict(tables, best=_replace(tables["best"], "separation_arcsec", sep),
                  radio_sources=_replace(tables["radio_sources"], "source_id", radio_ids))
    problems = _problems(run, broken)
    assert "best.separation_arcsec: 1 NaN value(s) in a required column" in problems
    assert "radio_sources.source_id: 1 null value(s) in a required column" in problems


@pytest.mark.parametrize(("table", "column", "bad"), [
    ("best", "separation_arcsec", math.inf),  # no upper bound: the range check alone lets +inf through
    ("pairs", "dt_years", -math.inf),
    ("stars", "epoch", math.inf),
])
def test_infinity_in_required_float_columns_is_refused(sample, table, column, bad):
    tables, run = sample
    values = tables[table].column(column).to_pylist()
    values[2] = bad
    problems = _problems(run, dict(tables, **{table: _replace(tables[table], column, values)}))
    assert problems == [f"{table}.{column}: 1 infinite value(s) in a required column"]


@pytest.mark.parametrize(("table", "column", "bad"), [
    ("stars", "parallax", math.nan),  # would pass parallax_snr >= 5 in Postgres (NaN sorts above numbers)
    ("stars", "parallax_error", math.inf),
    ("pairs", "separation_sigma", math.nan),
    ("radio_sources", "flux_int_mjy", -math.inf),
])
def test_nan_and_infinity_in_optional_float_columns_are_refused(sample, table, column, bad):
    tables, run = sample
    values = tables[table].column(column).to_pylist()
    values[2] = bad
    problems = _problems(run, dict(tables, **{table: _replace(tables[table], column, values)}))
    what = "NaN" if math.isnan(bad) else "infinite"
    assert problems == [f"{table}.{column}: 1 {what} value(s); write null for a missing value"]


def test_nullable_separation_sigma_may_be_null(sample):
    tables, run = sample
    sigma = [None] * tables["pairs"].num_rows
    pairs = _replace(tables["pairs"], "separation_sigma", sigma)
    results = validate("mem://test", run, dict(tables, pairs=pairs))
    assert results.tables["pairs"].column("separation_sigma").null_count == tables["pairs"].num_rows


def test_run_id_must_agree_with_run_json(sample):
    tables, run = sample
    problems = _problems(dict(run, run_id="other-run"), tables)
    assert any("differs from run.json run_id 'other-run'" in p for p in problems)
    assert _problems(dict(run, run_id=""), tables) == ["run.json: run_id missing or empty"]


def test_duplicate_keys_are_refused(sample):
    tables, run = sample
    best = tables["best"]
    doubled = pa.concat_tables([best, best.slice(0, 1)])
    assert _problems(run, dict(tables, best=doubled)) == ["best: duplicate key (radio_id) within the run"]


def test_pairs_must_reference_shipped_sources(sample):
    tables, run = sample
    stars = tables["stars"]
    missing_star = stars.column("source_id")[0].as_py()
    problems = _problems(run, dict(tables, stars=stars.slice(1)))
    assert any(p.startswith("pairs.star_id: 1 id(s) not in stars/") and missing_star in p for p in problems)


def test_out_of_range_values_are_refused(sample):
    tables, run = sample
    dec = tables["stars"].column("dec").to_numpy().copy()
    dec[:2] = 91.0
    p_chance = tables["pairs"].column("p_chance").to_numpy().copy()
    p_chance[0] = 1.5
    broken = dict(tables, stars=_replace(tables["stars"], "dec", dec),
                  pairs=_replace(tables["pairs"], "p_chance", p_chance))
    problems = _problems(run, broken)
    assert "stars.dec: 2 value(s) outside [-90.0, 90.0]" in problems
    assert "pairs.p_chance: 1 value(s) outside [0.0, 1.0]" in problems


def test_optional_survey_columns_may_be_absent(sample):
    tables, run = sample
    radio = tables["radio_sources"].drop_columns(["flux_peak_mjy", "freq_mhz"])
    results = validate("mem://test", run, dict(tables, radio_sources=radio))
    assert results.tables["radio_sources"].column("freq_mhz").null_count == radio.num_rows


def test_region_centres_lie_in_their_pixels(sample):
    tables, run = sample
    stats = validate("mem://test", run, tables).tables["offset_stats"]
    ra, dec = stats.column("region_ra").to_numpy(), stats.column("region_dec").to_numpy()
    order = stats.column("region_order").to_numpy()
    assert len(set(order)) == 1
    back = healpix_nested.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), int(order[0]))
    assert np.array_equal(back.astype(np.int64), stats.column("region_pixel").to_numpy())


def test_read_spark_style_folder(tmp_path, sample):
    """Spark writes several part files plus _SUCCESS markers: all parts are read, markers ignored."""
    tables, run = sample
    base = tmp_path / "run"
    write_results(str(base), tables, run)
    pairs = tables["pairs"]
    half = pairs.num_rows // 2
    (base / "pairs" / "part-00000.parquet").unlink()
    pq.write_table(pairs.slice(0, half), base / "pairs" / "part-00000-abc.snappy.parquet")
    pq.write_table(pairs.slice(half), base / "pairs" / "part-00001-abc.snappy.parquet")
    (base / "pairs" / "_SUCCESS").write_text("")
    results = read_results(str(base))
    assert results.tables["pairs"].num_rows == pairs.num_rows
    assert results.run["n_pairs"] == pairs.num_rows


def test_incomplete_folders_are_refused(tmp_path, sample):
    tables, run = sample
    base = tmp_path / "run"
    write_results(str(base), tables, run)
    (base / "run.json").unlink()
    with pytest.raises(ResultsValidationError, match="no run.json"):
        read_results(str(base))
    (base / "run.json").write_text(json.dumps(run))
    for part in (base / "offset_stats").iterdir():
        part.unlink()
    (base / "offset_stats").rmdir()
    with pytest.raises(ResultsValidationError) as info:
        read_results(str(base))
    assert info.value.problems == ["offset_stats/: folder missing"]


def test_sample_tables_follow_the_results_contract(sample):
    tables, run = sample
    assert tables["pairs"].schema.equals(PAIRS_SCHEMA)
    assert tables["best"].schema.equals(PAIRS_SCHEMA)
    assert tables["offset_stats"].schema.equals(OFFSET_STATS_SCHEMA)
    pairs = tables["pairs"].to_pandas()
    assert len(pairs) == run["n_pairs"] == 300
    # Ranks order separations within each radio source; best is exactly the rank-1 pairs.
    assert (pairs.groupby("radio_id")["separation_arcsec"].apply(lambda s: s.is_monotonic_increasing)).all()
    assert set(tables["best"].column("radio_id").to_pylist()) == set(pairs["radio_id"])
    assert pc.all(pc.equal(tables["best"].column("rank"), 1)).as_py()
    r_deg = pairs["separation_arcsec"] / 3600.0
    expected = 1.0 - np.exp(-math.pi * r_deg**2 * pairs["star_density_deg2"])
    assert np.allclose(pairs["p_chance"], expected, rtol=1e-12)


def test_read_checked_hands_over_each_checked_table_in_load_order(tmp_path, sample):
    """The loader COPYs each table as soon as it passed its checks: all five, in load order, as validated."""
    tables, run = sample
    write_results(str(tmp_path / "run"), tables, run)
    handed: list[tuple[str, pa.Table]] = []
    results = read_checked(open_results(str(tmp_path / "run")), on_table=lambda n, t: handed.append((n, t)))
    assert [name for name, _ in handed] == [t.name for t in LOAD_TABLES]
    expected = validate("mem://test", run, tables)
    for name, table in handed:
        assert table.equals(expected.tables[name]) and results.tables[name].equals(table)


@pytest.mark.parametrize("breakage", ["nan_in_pairs", "orphan_best", "duplicate_star"])
def test_read_checked_stops_handing_over_at_a_problem_and_reports_what_validate_does(tmp_path, sample,
                                                                                  breakage):
    tables, run = sample
    if breakage == "nan_in_pairs":
        tables = dict(tables, pairs=_replace(tables["pairs"], "p_chance",
                                             [math.nan] + tables["pairs"].column("p_chance").to_pylist()[1:]))
        handed_before = ["radio_sources", "stars", "offset_stats"]
    elif breakage == "orphan_best":  # passes every per-table check: only the references catch it
        ids = tables["best"].column("star_id").to_pylist()
        tables = dict(tables, best=_replace(tables["best"], "star_id", ["no-such-star", *ids[1:]]))
        handed_before = [t.name for t in LOAD_TABLES]
    else:
        ids = tables["stars"].column("source_id").to_pylist()
        tables = dict(tables, stars=_replace(tables["stars"], "source_id", [ids[1], *ids[1:]]))
        handed_before = ["radio_sources"]
    write_results(str(tmp_path / "run"), tables, run)
    handed: list[str] = []
    with pytest.raises(ResultsValidationError) as info:
        read_checked(open_results(str(tmp_path / "run")), on_table=lambda n, t: handed.append(n))
    assert handed == handed_before
    assert info.value.problems == _problems(run, tables)
    assert info.value.run_id == "unit-run"


def test_read_checked_reports_unreadable_folders_alone(tmp_path, sample):
    """As before checking: a folder that cannot be read refuses the run for that reason only."""
    tables, run = sample
    tables = dict(tables, stars=tables["stars"].drop_columns(["ra"]))  # would be a problem if checked
    write_results(str(tmp_path / "run"), tables, run)
    (tmp_path / "run" / "best" / "part-00000.parquet").write_bytes(b"not parquet")
    handed: list[str] = []
    with pytest.raises(ResultsValidationError) as info:
        read_checked(open_results(str(tmp_path / "run")), on_table=lambda n, t: handed.append(n))
    assert len(info.value.problems) == 1 and info.value.problems[0].startswith("best/: unreadable Parquet")
    assert "stars" not in handed
