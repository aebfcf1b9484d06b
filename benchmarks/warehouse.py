"""Warehouse benchmark: COPY throughput of a 1 M-pair run and dbt build time on it.

Each figure is printed with a reference measured in the same run on the same server, so the ratio means
something on any machine:
- load: `load_run` end to end (read Parquet, validate, binary COPY of six tables into new partitions, one
  transaction) vs. a bare COPY of the same rows, pre-rendered CSV, into plain index-free tables;
- dbt: `dbt build` right after the load (all models and tests; the marts are incremental, so it computes
  the new run and the stars it touches, and the tests check that run, as `radiolake marts --check-run`) vs. one
  CREATE TABLE AS over the run's pairs (a single scan and write of the biggest table). The marts are built
  once before the load (untimed) and vacuumed, as in a warehouse in use; every build shares one dbt work
  dir, as `radiolake marts` does; `--full-refresh` also times a rebuild of every mart from load.*.

Usage: python benchmarks/warehouse.py [--pairs 1000000] [--keep] [--full-refresh]
Needs a warehouse: `radiolake stack up` (or RADIOLAKE_WAREHOUSE_DSN) and dbt in .venv-dbt.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import psycopg
import pyarrow.csv as pacsv

from radiolake.config import Settings, get_settings
from radiolake.run_params import dbt_check_runs_vars
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.retention import drop_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results
from radiolake.warehouse.tables import LOAD_TABLES
from radiolake.warehouse.validate import read_results


def render_csvs(tables: dict) -> dict[str, tuple[list[str], bytes]]:
    """Each Arrow table as (column names, header-less CSV bytes): the bare COPY reference's input."""
    csvs = {}
    for name, table in tables.items():
        buf = io.BytesIO()
        pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
        csvs[name] = (table.column_names, buf.getvalue())
    return csvs


def bare_copy_seconds(dsn: str, csvs: dict[str, tuple[list[str], bytes]]) -> float:
    """COPY pre-rendered CSV of every table into plain index-free tables like load.*, in one transaction.

    Ordinary (WAL-logged) tables, like the loader's, so the comparison is about the load path, not about
    logging; they are dropped afterwards.
    """
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        t0 = time.perf_counter()
        for name, (columns, csv) in csvs.items():
            cur.execute(f"CREATE TABLE load.bench_{name} (LIKE load.{name})")
            # Columns named: the Arrow tables' order need not be the table's (columns added later).
            with cur.copy(f"COPY load.bench_{name} ({', '.join(columns)}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(csv), 8 << 20):
                    copy.write(csv[start:start + (8 << 20)])
        conn.commit()
        elapsed = time.perf_counter() - t0
        for name in csvs:
            cur.execute(f"DROP TABLE load.bench_{name}")
        conn.commit()
        return elapsed


def ctas_seconds(dsn: str, run_id: str) -> float:
    with psycopg.connect(dsn) as conn:
        t0 = time.perf_counter()
        conn.execute("CREATE TEMP TABLE bench_ctas AS SELECT * FROM load.pairs WHERE run_id = %s", (run_id,))
        conn.commit()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark run in the warehouse")
    parser.add_argument("--full-refresh", action="store_true", help="also time a full rebuild of the marts")
    args = parser.parse_args()
    settings = get_settings()
    settings.require_warehouse()
    # One dbt work dir for every build, as `radiolake marts` keeps one: dbt re-parses only what changed.
    with tempfile.TemporaryDirectory(prefix="radiolake-bench-dbt-") as work:
        bench(args, settings, Path(work))


def vacuum_marts(dsn: str) -> None:
    """VACUUM ANALYZE the tables dbt writes, as autovacuum does between builds of a warehouse in use.

    The untimed build before the load removes this benchmark's previous copy of the run from the marts (666 k
    dead rows per table); without this the timed build reads them and waits on autovacuum cleaning them up
    (1 s per table whose indexes it rebuilds), neither of which a new run arriving at a warehouse pays."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables "
            "WHERE schemaname IN ('intermediate', 'marts') ORDER BY 1").fetchall()
        for (table,) in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")


def bench(args: argparse.Namespace, settings: Settings, dbt_work: Path) -> None:
    dsn = settings.warehouse_dsn
    run_id = f"bench-{args.pairs}"
    load_start = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="radiolake-bench-") as tmp:
        t0 = time.perf_counter()
        tables, run = make_sample_tables(args.pairs, seed=1, run_id=run_id)
        write_results(str(Path(tmp) / "run"), tables, run)
        t_gen = time.perf_counter() - t0
        total_rows = 1 + sum(t.num_rows for t in tables.values())

        t0 = time.perf_counter()
        results = read_results(str(Path(tmp) / "run"))
        t_validate = time.perf_counter() - t0
        pairs = results.tables["pairs"]
        csvs = render_csvs(results.tables)

        with psycopg.connect(dsn) as conn:
            ensure_load_schema(conn)
            with conn.transaction(), conn.cursor() as cur:  # a rerun of the benchmark starts afresh
                drop_run(cur, run_id)
        dbt_runner.build(settings=settings, work_dir=dbt_work)  # the marts as they stand, untimed
        vacuum_marts(dsn)
        t_bare = bare_copy_seconds(dsn, csvs)
        report = load_run(str(Path(tmp) / "run"), dsn=dsn)
        t_reload = load_run(str(Path(tmp) / "run"), dsn=dsn).seconds  # idempotent rerun: partitions swapped

    t_ctas = ctas_seconds(dsn, run_id)
    t0 = time.perf_counter()
    result = dbt_runner.build(settings=settings, work_dir=dbt_work, vars=dbt_check_runs_vars([run_id]))
    t_dbt = time.perf_counter() - t0
    timings = sorted(result.results, key=lambda r: -r.get("execution_time", 0))[:5]
    t_full = None
    if args.full_refresh:
        t0 = time.perf_counter()
        dbt_runner.build(settings=settings, work_dir=dbt_work, full_refresh=True)
        t_full = time.perf_counter() - t0
    with psycopg.connect(dsn) as conn:
        n_runs = conn.execute("SELECT count(*) FROM load.runs").fetchone()[0]
        n_candidates = conn.execute("SELECT count(*) FROM marts.radio_star_candidates").fetchone()[0]

    n = pairs.num_rows
    print(f"synthetic run: {n:,} pairs, {total_rows:,} rows over {len(LOAD_TABLES) + 1} tables "
          f"(generated + written in {t_gen:.1f} s)")
    print(f"read + validate Parquet            {t_validate:7.2f} s   {total_rows / t_validate:12,.0f} rows/s")
    print(f"reference: bare CSV COPY          {t_bare:7.2f} s   {(total_rows - 1) / t_bare:12,.0f} rows/s")
    t_load = report.seconds
    print(f"load_run (all tables, 1 tx)        {t_load:7.2f} s   {total_rows / t_load:12,.0f} rows/s"
          f"   {n / t_load:12,.0f} pairs/s   = {t_bare / t_load:.2f} x bare COPY speed")
    print(f"reload same run (swap partitions)  {t_reload:7.2f} s   = {t_bare / t_reload:.2f} x bare COPY"
          " speed")
    print(f"reference: CTAS of the run's pairs {t_ctas:7.2f} s")
    print(f"dbt build after the load ({len(result.results)} nodes, {n_runs} runs, {n_candidates:,} candidates) "
          f"{t_dbt:7.2f} s   = {t_dbt / t_ctas:.1f} x CTAS")
    print("  slowest nodes: " + ", ".join(f"{r['unique_id'].split('.')[-1][:40]} {r['execution_time']:.1f} s"
                                          for r in timings))
    if t_full is not None:
        print(f"dbt build --full-refresh (every mart from load.*) {t_full:7.2f} s   = {t_full / t_ctas:.1f} x CTAS")
    print("load average (1, 5, 15 min) at the start: {:.1f} {:.1f} {:.1f}, at the end: {:.1f} {:.1f} {:.1f} "
          "on {} cores".format(*load_start, *os.getloadavg(), os.cpu_count()))

    if not args.keep:
        with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
            drop_run(cur, run_id)
        dbt_runner.build(settings=settings, work_dir=dbt_work)  # the marts forget it too
        print(f"removed {run_id} from the warehouse (--keep keeps it)")


if __name__ == "__main__":
    main()
