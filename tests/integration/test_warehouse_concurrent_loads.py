"""Two reloads of different runs at the same time, against the real Postgres: both succeed, no deadlock.

Each reload drops its run's old partitions and attaches new ones on the same parent tables. Held at the
same point (both past staging, both about to swap), the old code deadlocked: each held the parents in
ACCESS SHARE from staging and waited for ACCESS EXCLUSIVE on them to drop a partition.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.sample_run import write_sample_run

pytestmark = pytest.mark.integration


def _wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _count(dsn: str, table: str, run_id: str) -> int:
    with psycopg.connect(dsn) as conn:
        return conn.execute(f"SELECT count(*) FROM load.{table} WHERE run_id = %s", (run_id,)).fetchone()[0]


def test_two_concurrent_reloads_both_succeed(stack, tmp_path):
    dsn = stack.settings.warehouse_dsn
    runs = {"it-conc-a": (300, 700), "it-conc-b": (400, 900)}  # run -> (pairs first load, pairs reload)
    for run_id, (first, _) in runs.items():
        write_sample_run(str(tmp_path / run_id / "v1"), n_pairs=first, seed=first, run_id=run_id)
        load_run(str(tmp_path / run_id / "v1"), dsn=dsn)
    for run_id, (_, second) in runs.items():
        write_sample_run(str(tmp_path / run_id / "v2"), n_pairs=second, seed=second, run_id=run_id)

    with psycopg.connect(dsn) as setup:
        ensure_load_schema(setup)
    admin = make_conninfo(stack.admin_dsn, dbname="warehouse")
    blocker = psycopg.connect(admin)
    monitor = psycopg.connect(admin, autocommit=True)
    errors: dict[str, BaseException] = {}

    def reload(run_id: str) -> None:
        try:
            load_run(str(tmp_path / run_id / "v2"), dsn=dsn)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors[run_id] = exc

    threads = [threading.Thread(target=reload, args=(r,)) for r in runs]
    try:
        # load.runs is written between staging and swapping: holding it lines both loaders up at the swap.
        blocker.execute("LOCK TABLE load.runs IN ACCESS EXCLUSIVE MODE")
        for t in threads:
            t.start()
        _wait_for(lambda: monitor.execute(
            "SELECT count(*) = 2 FROM pg_stat_activity WHERE application_name = 'radiolake-load' "
            "AND wait_event_type = 'Lock'").fetchone()[0], 120, "both loaders to wait")
        blocker.rollback()
        for t in threads:
            t.join(300)
    finally:
        blocker.close()
        monitor.close()
    assert not any(t.is_alive() for t in threads)
    assert errors == {}, {k: f"{type(v).__name__}: {v}" for k, v in errors.items()}
    for run_id, (_, second) in runs.items():
        assert _count(dsn, "pairs", run_id) == second
        assert _count(dsn, "runs", run_id) == 1
