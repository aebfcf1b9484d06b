"""Fault tests: a service killed in the middle of a step; after restart a retry succeeds, nothing doubled.

Each runs on a stack of its own (`own_stack`), so a fault that is not recovered fails that test alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results
from tests.integration.faults import kill_group, kill_postgres

pytestmark = pytest.mark.integration

DATA_TABLES = {"runs": ("run_id",), "radio_sources": ("source_id",), "stars": ("source_id",),
               "offset_stats": ("region_order", "region_pixel", "radius_arcsec"),
               "pairs": ("radio_id", "star_id"), "best": ("radio_id",)}


def _wait_for(fn, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
        except psycopg.OperationalError:
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _counts(dsn: str, run_id: str) -> dict[str, tuple[int, int]]:
    """Rows and distinct keys of the run per load table (equal: no duplicate row)."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for table, key in DATA_TABLES.items():
            cols = ", ".join(key)
            out[table] = conn.execute(f"SELECT count(*), count(DISTINCT ({cols})) FROM load.{table} "
                                      "WHERE run_id = %s", (run_id,)).fetchone()
    return out


def test_postgres_killed_during_a_load_then_retry_loads_once(own_stack, tmp_path):
    stack = own_stack
    dsn = stack.settings.warehouse_dsn
    run_id = "it-fault-pg"
    tables, run = make_sample_tables(1200, seed=61, run_id=run_id)
    write_results(str(tmp_path / "r"), tables, run)
    expected = {"runs": 1, **{name: t.num_rows for name, t in tables.items()}}
    with psycopg.connect(dsn) as setup:
        ensure_load_schema(setup)

    # Hold load.best so the loader stops inside its transaction with the other tables already copied.
    admin = make_conninfo(stack.admin_dsn, dbname="warehouse")
    blocker = psycopg.connect(admin)
    blocker.execute("LOCK TABLE load.best IN ACCESS EXCLUSIVE MODE")
    code = "import sys; from radiolake.warehouse.load import load_run; load_run(sys.argv[1], dsn=sys.argv[2])"
    loader = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "r"), dsn], env=dict(os.environ),
                              stderr=subprocess.PIPE, text=True)
    try:
        with psycopg.connect(admin, autocommit=True) as monitor:
            _wait_for(lambda: monitor.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = 'radiolake-load' "
                "AND wait_event_type = 'Lock'").fetchone(), 120, "the loader to block inside its transaction")
        kill_postgres(stack.stack.postgres.data_dir)
        assert loader.wait(60) != 0  # the load failed with the server gone: nothing claims success
        assert "connection" in loader.stderr.read().lower()
    finally:
        if loader.poll() is None:
            loader.kill()
        blocker.close()

    stack.stack.postgres.start()  # crash recovery replays the WAL; the load's transaction never committed
    assert {t: n for t, (n, _) in _counts(dsn, run_id).items()} == dict.fromkeys(DATA_TABLES, 0)
    report = load_run(str(tmp_path / "r"), dsn=dsn)  # the retry
    assert report.rows == expected
    counts = _counts(dsn, run_id)
    assert {t: n for t, (n, _) in counts.items()} == expected
    assert all(n == distinct for n, distinct in counts.values())
    stack.stack.up()  # whatever else noticed the crash (Airflow's scheduler) is running again
    assert all(s.healthy for s in stack.stack.status())


def test_scheduler_killed_during_a_pipeline_run_then_the_retry_succeeds(own_stack, monkeypatch):
    """SIGKILL the scheduler's process group (LocalExecutor runs the task, and its Spark JVM, under it)
    while `crossmatch` runs; after a restart Airflow resets the orphaned task and runs it again.

    How the restarted scheduler finds it: the task instance was queued by the killed scheduler's job, so no
    heartbeat timeout applies (that check only looks at tasks of the live job). Its orphan check marks that job
    failed once its heartbeat is `scheduler_health_check_threshold` (30 s) old and resets the task; the check
    runs at the scheduler's start and then every `orphaned_tasks_check_interval`, 300 s by default: when the
    killed job's last heartbeat was under 30 s old at the restart, the reset came up to 300 s later. The
    restarted components here check every 10 s (the same reset, found sooner)."""
    import pyarrow.fs as pafs

    from radiolake.crossmatch.runner import safe_run_id
    from radiolake.lake import arrow_fs, ensure_buckets

    stack = own_stack
    client = stack.airflow
    ensure_buckets(stack.settings)
    client.wait_for_dag("radiolake_pipeline", timeout=240)
    conf = {"radio_survey": "synthetic_radio", "stars_survey": "synthetic_stars", "region": "cone:150,20,2",
            "rows": 3000, "seed": 71, "radius_arcsec": 2.0, "offsets": 2}
    dag_run = client.trigger("radiolake_pipeline", conf)
    _wait_for(lambda: client.task_states("radiolake_pipeline", dag_run).get("crossmatch") == "running", 900,
              "crossmatch to run")
    scheduler = next(p for p in stack.stack.airflow.processes() if p.service == "airflow-scheduler")
    pid = scheduler.pid()
    assert pid is not None
    kill_group(pid)

    # Only the restarted scheduler (and the other components up() replaces) see this: the test process
    # environment reaches them (ManagedProcess), the setting is not in the stack's own Airflow environment.
    monkeypatch.setenv("AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL", "10")
    stack.stack.up()
    assert client.wait_for_run("radiolake_pipeline", dag_run, timeout=1800) == "success"
    assert _try_number(client, dag_run, "crossmatch") >= 2, "the killed attempt was not reset and run again"

    run_id = safe_run_id(dag_run)
    counts = _counts(stack.settings.warehouse_dsn, run_id)
    assert counts["runs"] == (1, 1) and counts["best"][0] > 0
    assert all(n == distinct for n, distinct in counts.values())  # no duplicate row
    fs = arrow_fs(stack.settings)
    prefix = f"{stack.settings.bucket('xmatch')}/{run_id}"
    objects = [i.path for i in fs.get_file_info(pafs.FileSelector(prefix, recursive=True))
               if i.type == pafs.FileType.File]
    assert f"{prefix}/run.json" in objects
    assert not [o for o in objects if "/_temporary/" in o], "half-written objects left by the killed attempt"


def _try_number(client, run_id: str, task_id: str) -> int:
    with client._client() as http:
        resp = http.get(f"/dags/radiolake_pipeline/dagRuns/{run_id}/taskInstances/{task_id}")
        resp.raise_for_status()
    return int(resp.json()["try_number"])
