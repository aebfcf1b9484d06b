"""Loading cross-match runs into the real Postgres of the embedded stack: idempotent, atomic, versioned."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results, write_sample_run
from radiolake.warehouse.tables import LOAD_TABLES
from radiolake.warehouse.validate import ResultsValidationError

pytestmark = pytest.mark.integration

DATA_TABLES = ("runs", "radio_sources", "stars", "offset_stats", "pairs", "best")


def run_counts(dsn: str, run_id: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM load.{t} WHERE run_id = %s", (run_id,)).fetchone()[0]
                for t in DATA_TABLES}


def file_counts(tables: dict) -> dict[str, int]:
    return {"runs": 1, **{name: t.num_rows for name, t in tables.items()}}


def test_load_twice_leaves_one_copy_and_keeps_other_runs(stack, tmp_path):
    dsn = stack.settings.warehouse_dsn
    first = write_sample_run(str(tmp_path / "a"), n_pairs=800, seed=21, run_id="it-load-a")
    write_sample_run(str(tmp_path / "b"), n_pairs=500, seed=22, run_id="it-load-b")
    tables, _ = make_sample_tables(800, seed=21, run_id="it-load-a")

    report = load_run(str(tmp_path / "a"), dsn=dsn)
    assert report.rows == file_counts(tables)
    load_run(str(tmp_path / "b"), dsn=dsn)
    again = load_run(str(tmp_path / "a"), dsn=dsn)
    assert again.rows == report.rows
    assert run_counts(dsn, "it-load-a") == file_counts(tables)
    assert run_counts(dsn, "it-load-b")["pairs"] == 500  # the newer run did not replace the older one
    with psycopg.connect(dsn) as conn:
        dupes = conn.execute("SELECT count(*) - count(DISTINCT (radio_id, star_id)) FROM load.pairs "
                             "WHERE run_id = 'it-load-a'").fetchone()[0]
        n_best, meta = conn.execute("SELECT n_best, run_json FROM load.runs "
                                    "WHERE run_id = 'it-load-a'").fetchone()
    assert dupes == 0
    assert n_best == first["n_best"] and meta["n_pairs"] == first["n_pairs"]


def test_loaded_values_round_trip(stack, tmp_path):
    """COPY through CSV must not lose precision, nulls or booleans."""
    dsn = stack.settings.warehouse_dsn
    tables, run = make_sample_tables(200, seed=23, run_id="it-load-values")
    write_results(str(tmp_path / "r"), tables, run)
    load_run(str(tmp_path / "r"), dsn=dsn)
    expected = tables["stars"].to_pandas().set_index("source_id").sort_index()
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT source_id, ra, parallax, pmra FROM load.stars WHERE run_id = %s "
                            "ORDER BY source_id", ("it-load-values",)).fetchall()
        pm_flags = conn.execute("SELECT radio_id, star_id, pm_applied FROM load.pairs WHERE run_id = %s",
                                ("it-load-values",)).fetchall()
    assert [r[0] for r in rows] == list(expected.index)
    assert [r[1] for r in rows] == list(expected["ra"])  # exact: shortest round-trip repr
    got_parallax = [r[2] for r in rows]
    assert sum(p is None for p in got_parallax) == int(expected["parallax"].isna().sum()) > 0
    pairs = tables["pairs"].to_pandas().set_index(["radio_id", "star_id"])["pm_applied"]
    assert {(r, s): f for r, s, f in pm_flags} == pairs.to_dict()


@pytest.mark.parametrize("breakage", ["missing_column", "nan_key"])
def test_bad_input_is_refused_and_nothing_changes(stack, tmp_path, breakage):
    dsn = stack.settings.warehouse_dsn
    run_id = f"it-load-bad-{breakage}"
    good = tmp_path / "good"
    write_sample_run(str(good), n_pairs=300, seed=24, run_id=run_id)
    load_run(str(good), dsn=dsn)
    before = run_counts(dsn, run_id)

    bad = tmp_path / "bad"
    tables, run = make_sample_tables(400, seed=25, run_id=run_id)
    if breakage == "missing_column":
        tables["pairs"] = tables["pairs"].drop_columns(["star_id"])
        expected = "pairs: missing column(s) star_id"
    else:
        best = tables["best"]
        p = best.column("p_chance").to_numpy().copy()
        p[:5] = float("nan")
        tables["best"] = best.set_column(best.schema.get_field_index("p_chance"), "p_chance", [p])
        expected = "best.p_chance: 5 NaN value(s) in a required column"
    write_results(str(bad), tables, run)

    with pytest.raises(ResultsValidationError) as info:
        load_run(str(bad), dsn=dsn)
    assert expected in info.value.problems
    assert run_counts(dsn, run_id) == before  # the earlier good load of this run is intact
    with psycopg.connect(dsn) as conn:
        reason = conn.execute("SELECT reason FROM load.rejected_runs WHERE source_uri = %s "
                              "ORDER BY rejected_at DESC LIMIT 1", (str(bad),)).fetchone()
    assert reason is not None and expected in reason[0]


def test_never_loaded_bad_run_leaves_no_rows(stack, tmp_path):
    dsn = stack.settings.warehouse_dsn
    tables, run = make_sample_tables(100, seed=26, run_id="it-load-never")
    tables["radio_sources"] = tables["radio_sources"].drop_columns(["survey"])
    write_results(str(tmp_path / "r"), tables, run)
    with pytest.raises(ResultsValidationError, match="radio_sources: missing column"):
        load_run(str(tmp_path / "r"), dsn=dsn)
    assert set(run_counts(dsn, "it-load-never").values()) == {0}


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_killed_load_leaves_nothing_visible_and_retry_succeeds(stack, tmp_path):
    """Kill -9 the loader while it is inside its transaction (earlier tables already copied)."""
    dsn = stack.settings.warehouse_dsn
    run_id = "it-load-killed"
    v1 = tmp_path / "v1"
    write_sample_run(str(v1), n_pairs=600, seed=27, run_id=run_id)
    load_run(str(v1), dsn=dsn)
    before = run_counts(dsn, run_id)

    v2 = tmp_path / "v2"
    tables_v2, run_v2 = make_sample_tables(1500, seed=28, run_id=run_id)
    write_results(str(v2), tables_v2, run_v2)

    with psycopg.connect(dsn) as setup:
        ensure_load_schema(setup)
    # Hold load.best (the last table the loader stages) so the loader stops inside its transaction, after
    # it has copied radio_sources, stars, offset_stats and pairs of v2 into new tables.
    admin = make_conninfo(stack.admin_dsn, dbname="warehouse")
    blocker = psycopg.connect(admin)
    monitor = psycopg.connect(admin, autocommit=True)  # autocommit: fresh pg_stat_activity on every poll
    try:
        blocker.execute("LOCK TABLE load.best IN ACCESS EXCLUSIVE MODE")
        code = ("import sys; from radiolake.warehouse.load import load_run; "
                "load_run(sys.argv[1], dsn=sys.argv[2])")
        proc = subprocess.Popen([sys.executable, "-c", code, str(v2), dsn], env=dict(os.environ))
        try:
            query = _wait_for(lambda: monitor.execute(
                "SELECT query FROM pg_stat_activity WHERE application_name = 'radiolake-load' "
                "AND wait_event_type = 'Lock'").fetchone(), 120, "the loader to block on load.best")[0]
            assert '"best"' in query  # blocked on the last table, the others already staged
            with psycopg.connect(dsn) as reader:  # a reader meanwhile sees the old version whole
                assert reader.execute("SELECT count(*) FROM load.pairs WHERE run_id = %s",
                                      (run_id,)).fetchone()[0] == before["pairs"]
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
        blocker.rollback()  # release the lock: the orphaned backend now finds its client gone and aborts
        _wait_for(lambda: monitor.execute(
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = 'radiolake-load'"
        ).fetchone()[0], 60, "the killed loader's backend to end")
    finally:
        blocker.close()
        monitor.close()

    assert run_counts(dsn, run_id) == before  # nothing of v2 visible, v1 untouched
    retry = load_run(str(v2), dsn=dsn)
    assert retry.rows == file_counts(tables_v2)
    assert run_counts(dsn, run_id) == file_counts(tables_v2)


def test_load_from_object_store(stack, tmp_path):
    settings = stack.settings
    ensure_buckets(settings)
    fs = arrow_fs(settings)
    run_id = "it-load-s3"
    run = write_sample_run(f"{settings.bucket('xmatch')}/{run_id}", n_pairs=400, seed=29, run_id=run_id,
                           filesystem=fs)
    report = load_run(f"s3://{settings.bucket('xmatch')}/{run_id}", settings=settings)
    assert report.rows["pairs"] == 400 and report.rows["best"] == run["n_best"]
    assert run_counts(settings.warehouse_dsn, run_id)["pairs"] == 400
    # The same bytes read straight from S3 agree with what landed in Postgres.
    best = pq.read_table(f"{settings.bucket('xmatch')}/{run_id}/best/part-00000.parquet", filesystem=fs)
    with psycopg.connect(settings.warehouse_dsn) as conn:
        total = conn.execute("SELECT sum(separation_arcsec) FROM load.best WHERE run_id = %s",
                             (run_id,)).fetchone()[0]
    assert total == pytest.approx(sum(best.column("separation_arcsec").to_pylist()), rel=1e-12)


def test_cli_load_reports_rows_and_refuses_bad_input(stack, tmp_path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from radiolake.warehouse.cli import load

    monkeypatch.setenv("RADIOLAKE_WAREHOUSE_DSN", stack.settings.warehouse_dsn)
    app = typer.Typer()
    app.command()(load)
    write_sample_run(str(tmp_path / "ok"), n_pairs=150, seed=30, run_id="it-load-cli")
    result = CliRunner().invoke(app, [str(tmp_path / "ok")])
    assert result.exit_code == 0, result.output
    assert "load.pairs" in result.output and "150" in result.output
    assert run_counts(stack.settings.warehouse_dsn, "it-load-cli")["pairs"] == 150

    tables, run = make_sample_tables(150, seed=30, run_id="it-load-cli-bad")
    tables["best"] = tables["best"].drop_columns(["rank"])
    write_results(str(tmp_path / "bad"), tables, run)
    result = CliRunner().invoke(app, [str(tmp_path / "bad")])
    assert result.exit_code == 1
    assert "best: missing column(s) rank" in result.output


def test_embedded_load_skips_wal_and_a_rerun_still_replaces_the_run(stack, tmp_path):
    """The embedded server runs wal_level=minimal, so a load's COPY into tables created in its own
    transaction writes (almost) no WAL; a rerun under it still leaves exactly one copy of the run."""
    dsn = stack.settings.warehouse_dsn
    run_id = "it-load-wal"
    tables, run = make_sample_tables(40_000, seed=31, run_id=run_id)
    write_results(str(tmp_path / "r"), tables, run)
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SHOW wal_level").fetchone()[0] == "minimal"
        assert conn.execute("SHOW max_wal_senders").fetchone()[0] == "0"
    admin_dsn = make_conninfo(stack.admin_dsn, dbname="warehouse")  # pg_current_wal_lsn: superuser only
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for attempt in ("load", "rerun"):
            start = admin.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            load_run(str(tmp_path / "r"), dsn=dsn)
            wal_bytes, data_bytes = admin.execute(
                "SELECT pg_current_wal_lsn() - %s::pg_lsn, "
                "(SELECT sum(pg_table_size(c.oid)) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid "
                " WHERE i.inhparent IN ('load.pairs'::regclass, 'load.best'::regclass, "
                "                       'load.stars'::regclass, 'load.radio_sources'::regclass) "
                "   AND pg_get_expr(c.relpartbound, c.oid) LIKE %s)",
                (start, f"%'{run_id}'%")).fetchone()
            # The run's data is several MB; WAL carries only catalogue changes (and other databases'
            # background writes), far below it. With wal_level replica it would exceed the data size.
            assert data_bytes > 8 << 20, attempt
            assert wal_bytes < data_bytes / 4, (attempt, wal_bytes, data_bytes)
            assert run_counts(dsn, run_id) == file_counts(tables), attempt


def test_each_partition_gets_its_primary_key_and_a_dbt_test_checks_it(stack, tmp_path):
    """The load gives every partition its key (run_id + the table's key within a run): Postgres refuses a
    duplicate from any writer. dbt's catalog test fails when a partition lacks it; the next load's schema
    step (ensure_load_schema) gives a keyless partition, e.g. one loaded by an older version, its key."""
    dsn = stack.settings.warehouse_dsn
    run_id = "it-load-keys"
    write_sample_run(str(tmp_path / "r"), n_pairs=300, seed=41, run_id=run_id)
    load_run(str(tmp_path / "r"), dsn=dsn)
    key_of_partition = """
        SELECT c.relname, array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY AS u (attnum, n)
                                JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = u.attnum ORDER BY n)
        FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        LEFT JOIN pg_constraint AS k ON k.conrelid = c.oid AND k.contype = 'p'
        WHERE i.inhparent = %s::regclass AND pg_get_expr(c.relpartbound, c.oid) LIKE %s"""
    with psycopg.connect(dsn) as conn:
        for table in LOAD_TABLES:
            partition, key = conn.execute(key_of_partition, (f"load.{table.name}", f"%'{run_id}'%")).fetchone()
            assert key == ["run_id", *table.key], table.name
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute("INSERT INTO load.stars SELECT * FROM load.stars WHERE run_id = %s LIMIT 1", (run_id,))
    work = tmp_path / "dbt"
    select = ["test", "--select", "assert_load_partitions_have_primary_keys"]
    dbt_runner.run_dbt(select, settings=stack.settings, work_dir=work)  # every partition has its key
    with psycopg.connect(dsn) as conn:
        partition, _ = conn.execute(key_of_partition, ("load.stars", f"%'{run_id}'%")).fetchone()
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.Identifier("load", partition), sql.Identifier(f"{partition}_pkey")))
    with pytest.raises(dbt_runner.DbtError) as info:
        dbt_runner.run_dbt(select, settings=stack.settings, work_dir=work)
    assert "assert_load_partitions_have_primary_keys" in info.value.failures[0]
    with psycopg.connect(dsn) as conn:
        ensure_load_schema(conn)
        assert conn.execute(key_of_partition, ("load.stars", f"%'{run_id}'%")).fetchone()[1] == [
            "run_id", "source_id"]
    dbt_runner.run_dbt(select, settings=stack.settings, work_dir=work)
