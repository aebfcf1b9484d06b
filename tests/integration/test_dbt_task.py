"""`radiolake-dbt`, the dbt executable of the Airflow dbt tasks, against the stack: it builds a model with the
warehouse connection and grants of `radiolake marts`, and waits for (then names) a CLI build holding the
warehouse's dbt lock instead of swapping the same tables under it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg
import pytest

from radiolake.config import WAREHOUSE_DB, WAREHOUSE_ROLE
from radiolake.warehouse.dbt_airflow import task_executable
from radiolake.warehouse.dbt_runner import build_lock, project_dir
from radiolake.warehouse.load import ensure_load_schema

pytestmark = pytest.mark.integration


def radiolake_dbt(target: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    project = str(project_dir())
    return subprocess.run([task_executable(), *args, "--project-dir", project, "--profiles-dir", project,
                           "--target-path", str(target)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, **env})


def test_radiolake_dbt_builds_a_model_with_the_warehouse_connection_and_grants(stack, tmp_path):
    with psycopg.connect(stack.settings.warehouse_dsn) as conn:
        ensure_load_schema(conn)  # what the first load does
    done = radiolake_dbt(tmp_path, "run", "--select", "stg_runs")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 of 1 OK created sql view model staging.stg_runs" in " ".join(done.stdout.split())
    with psycopg.connect(stack.admin_dsn.rsplit("/", 1)[0] + f"/{WAREHOUSE_DB}") as conn:
        owner = conn.execute("SELECT viewowner FROM pg_views WHERE schemaname = 'staging' "
                             "AND viewname = 'stg_runs'").fetchone()
        analyst_on_marts = conn.execute("SELECT has_schema_privilege('analyst', 'marts', 'USAGE')").fetchone()
    assert owner == (WAREHOUSE_ROLE,) and analyst_on_marts == (True,)


def test_radiolake_dbt_waits_for_a_cli_build_and_names_it(stack, tmp_path):
    with build_lock(stack.settings.warehouse_dsn):  # what `radiolake marts` holds for its whole build
        blocked = radiolake_dbt(tmp_path, "run", "--select", "stg_runs", RADIOLAKE_PG_LOCK_TIMEOUT_MS="1500")
    assert blocked.returncode != 0
    assert "advisory lock radiolake.warehouse.dbt" in blocked.stderr
    assert "radiolake-dbt-lock" in blocked.stderr  # the holder's application name
    assert "Running with dbt" not in blocked.stdout  # dbt never started
