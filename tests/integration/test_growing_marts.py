"""Cross-matches that grow (issue 22), on the real warehouse and dbt: runs supersede per footprint.

One synthetic survey is cross-matched once over the whole sky (U) and again as three regional runs (R1-R3,
each footprint a third of the sky) plus a run of a new epoch of it (E: the same stars, other radio sources).
radio_stars and radio_star_detections after U + E must equal, row for row (EXCEPT both ways, the columns
that name the run aside), those after each regional run is loaded on top: a regional run replaces U's
detections inside its footprint and nowhere else. Rerunning a region (a new run id over the same rows) and
reloading a run change nothing, and a full rebuild gives the same rows as the incremental builds.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from radiolake.warehouse import dbt_runner
from radiolake.warehouse.footprints import SKY_END
from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.retention import RetentionPolicy, runs_to_drop
from radiolake.warehouse.sample_run import make_sample_tables, write_results

pytestmark = pytest.mark.integration

SURVEY, EPOCH2 = "it_grow_racs", "it_grow_racs_e2"
SEED = 2217
REGION_ORDER = 3
#: Three regions of order-3 pixels (768 in all), as order-29 ranges.
REGIONS = {f"r{k + 1}": (k * 256, (k + 1) * 256) for k in range(3)}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: The whole project: a selection of the marts' ancestors runs tests that also read models outside it.
MARTS = None


def _with_run_id(tables: dict[str, pa.Table], run_id: str) -> dict[str, pa.Table]:
    out = {}
    for name, table in tables.items():
        i = table.schema.get_field_index("run_id")
        out[name] = table if i < 0 else table.set_column(
            i, table.schema.field(i), pa.array([run_id] * table.num_rows, pa.string()))
    return out


def _region_of(tables: dict[str, pa.Table], lo: int, hi: int) -> dict[str, pa.Table]:
    """The run's rows whose radio source lies in order-3 pixels [lo, hi)."""
    radio = tables["radio_sources"]
    pixel = pc.shift_right(radio.column("healpix"), 2 * (29 - REGION_ORDER))
    radio = radio.filter(pc.and_(pc.greater_equal(pixel, lo), pc.less(pixel, hi)))
    ids = radio.column("source_id")
    pairs = tables["pairs"].filter(pc.is_in(tables["pairs"].column("radio_id"), ids))
    best = tables["best"].filter(pc.is_in(tables["best"].column("radio_id"), ids))
    stars = tables["stars"].filter(pc.is_in(tables["stars"].column("source_id"), pairs.column("star_id")))
    offsets = tables["offset_stats"]
    offsets = offsets.filter(pc.and_(pc.greater_equal(offsets.column("region_pixel"), lo),
                                     pc.less(offsets.column("region_pixel"), hi)))
    return {"radio_sources": radio, "stars": stars, "pairs": pairs, "best": best, "offset_stats": offsets}


def _new_epoch(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """The same stars seen again a year later by a new epoch of the survey: new radio ids, brighter."""
    def rename(col: pa.ChunkedArray) -> pa.Array:
        return pc.replace_substring(col, f"{SURVEY}:", f"{EPOCH2}:")

    radio = tables["radio_sources"]
    for name, value in (("source_id", rename(radio.column("source_id"))),
                        ("survey", pa.array([EPOCH2] * radio.num_rows, pa.string())),
                        ("epoch", pc.add(radio.column("epoch"), 1.0)),
                        ("flux_int_mjy", pc.multiply(radio.column("flux_int_mjy"), 1.5))):
        i = radio.schema.get_field_index(name)
        radio = radio.set_column(i, radio.schema.field(i), value)
    out = dict(tables, radio_sources=radio)
    for name in ("pairs", "best"):
        t = tables[name]
        i = t.schema.get_field_index("radio_id")
        out[name] = t.set_column(i, t.schema.field(i), rename(t.column("radio_id")))
    return out


def _write(tmp_path_factory, tables, base_run: dict, run_id: str, hours: int, catalog: str,
           footprint: tuple[int, int] | None) -> str:
    tables = _with_run_id(tables, run_id)
    shift = 2 * (29 - REGION_ORDER)
    ranges = [[0, SKY_END]] if footprint is None else [[footprint[0] << shift, footprint[1] << shift]]
    run = dict(base_run, run_id=run_id, radio_catalog=catalog,
               created_utc=(T0 + timedelta(hours=hours)).isoformat(timespec="seconds"),
               n_pairs=tables["pairs"].num_rows, n_best=tables["best"].num_rows,
               n_radio=tables["radio_sources"].num_rows,
               footprint={"order": 29, "ranges": ranges})
    run["catalog_versions"] = {"radio": {"catalog": catalog, "version": None},
                               "stars": base_run["catalog_versions"]["stars"]}
    path = str(tmp_path_factory.mktemp(run_id))
    write_results(path, tables, run)
    return path


def _drop_my_runs(dsn: str) -> None:
    from radiolake.warehouse.partitions import drop_run_partitions
    from radiolake.warehouse.tables import LOAD_TABLES

    with psycopg.connect(dsn) as conn:
        ensure_load_schema(conn)  # a fresh warehouse has no load schema yet
    with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT run_id FROM load.runs WHERE run_id LIKE 'it-grow-%'")
        for (run_id,) in cur.fetchall():
            for table in LOAD_TABLES:
                drop_run_partitions(cur, table.name, run_id)
            cur.execute("DELETE FROM load.runs WHERE run_id = %s", (run_id,))


def _frame(cur, query: str, args=()) -> pd.DataFrame:
    cur.execute(query, args)
    df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    # The columns that say which run or build a row came from differ by design; the science must not.
    return df.drop(columns=[c for c in df.columns if "run" in c or "built" in c])


def snapshot(dsn: str) -> dict[str, pd.DataFrame]:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        detections = _frame(cur, "SELECT * FROM marts.radio_star_detections WHERE survey = ANY(%s) "
                                 "ORDER BY detection_key", ([SURVEY, EPOCH2],))
        stars = _frame(cur, "SELECT * FROM marts.radio_stars WHERE star_id IN (SELECT physical_star_id FROM "
                            "marts.radio_star_detections WHERE survey = ANY(%s)) ORDER BY star_id",
                       ([SURVEY, EPOCH2],))
    return {"radio_star_detections": detections, "radio_stars": stars}


def _rows(df: pd.DataFrame) -> set[tuple]:
    rounded = df.copy()
    for col in rounded.columns:
        if rounded[col].dtype.kind == "f":
            rounded[col] = rounded[col].round(9)
    return {tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in row)
            for row in rounded.astype(object).itertuples(index=False)}


def assert_same_rows(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame], when: str) -> None:
    for table in want:
        a, b = _rows(got[table]), _rows(want[table])
        assert len(a) == len(got[table]), f"{when}: {table} has duplicate rows"
        assert not (a - b) and not (b - a), (f"{when}: {table}: {len(a - b)} rows only in the regional build, "
                                             f"{len(b - a)} only in the union")


def _survey_run_ids(dsn: str, survey: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {r[0] for r in conn.execute("SELECT DISTINCT run_id FROM marts.radio_star_detections "
                                           "WHERE survey = %s", (survey,)).fetchall()}


def test_regional_and_new_epoch_runs_equal_one_run_over_the_union(stack, tmp_path_factory):
    dsn = stack.settings.warehouse_dsn
    work = tmp_path_factory.mktemp("dbt-growing")
    _drop_my_runs(dsn)
    union, base_run = make_sample_tables(1500, seed=SEED, run_id="it-grow-u", survey=SURVEY)
    write = lambda tables, run_id, hours, catalog, footprint: _write(  # noqa: E731
        tmp_path_factory, tables, base_run, run_id, hours, catalog, footprint)

    load_run(write(union, "it-grow-u", 0, SURVEY, None), dsn=dsn)
    load_run(write(_new_epoch(union), "it-grow-e2", 4, EPOCH2, None), dsn=dsn)
    dbt_runner.build(settings=stack.settings, work_dir=work, select=MARTS)
    want = snapshot(dsn)
    n_detections = len(want["radio_star_detections"])
    assert n_detections > 500 and set(want["radio_star_detections"]["survey"]) == {SURVEY, EPOCH2}
    # The new epoch adds a detection (a light-curve point) to the same stars: none of them has only one.
    per_star = want["radio_star_detections"].groupby("physical_star_id")["survey"].nunique()
    assert (per_star == 2).mean() > 0.9

    regional = {}
    for hours, (name, pixels) in enumerate(REGIONS.items(), start=1):
        regional[name] = write(_region_of(union, *pixels), f"it-grow-{name}", hours, SURVEY, pixels)
        load_run(regional[name], dsn=dsn)
        dbt_runner.build(settings=stack.settings, work_dir=work, select=MARTS)
        assert_same_rows(snapshot(dsn), want, f"after region {name}")
    # Every detection of the survey now comes from the regional runs: each superseded U where it covered.
    assert _survey_run_ids(dsn, SURVEY) == {f"it-grow-{name}" for name in REGIONS}

    # A rerun of region 2 (a new run over the same rows) and a reload of region 1 change nothing.
    load_run(write(_region_of(union, *REGIONS["r2"]), "it-grow-r2-again", 5, SURVEY, REGIONS["r2"]), dsn=dsn)
    load_run(regional["r1"], dsn=dsn)
    dbt_runner.build(settings=stack.settings, work_dir=work, select=MARTS)
    assert_same_rows(snapshot(dsn), want, "after a rerun of region 2 and a reload of region 1")
    assert _survey_run_ids(dsn, SURVEY) == {"it-grow-r1", "it-grow-r2-again", "it-grow-r3"}

    # Retention keeping one run per combination drops only a run wholly covered by one newer run (region 2's
    # first run); the other regional runs are still the newest in their regions, and U is covered only by
    # their union, so they all stay.
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        dropped = {r for r in runs_to_drop(cur, RetentionPolicy(keep_runs=1)) if r.startswith("it-grow-")}
    assert dropped == {"it-grow-r2"}

    dbt_runner.build(settings=stack.settings, work_dir=work, select=MARTS, full_refresh=True)
    assert_same_rows(snapshot(dsn), want, "after a full rebuild")
    _drop_my_runs(dsn)
