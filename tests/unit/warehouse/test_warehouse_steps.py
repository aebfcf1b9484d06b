"""Which run the warehouse DAG loads, and how dbt is told to reach the warehouse (no services needed)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from radiolake.config import ConfigError, Settings
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.steps import dbt_vars, results_uri, runs_to_load

SETTINGS = Settings(home=Path("/tmp/unused"), s3_endpoint="", s3_access_key="", s3_secret_key="")


@dataclass
class Event:
    """The two attributes of Airflow's asset event references that the pipeline reads."""

    extra: dict
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def test_results_uri_forms():
    assert results_uri("r1", None, SETTINGS) == "s3://xmatch/r1"
    assert results_uri("r1", "xmatch/r1/", SETTINGS) == "s3://xmatch/r1"
    assert results_uri(None, "runs/r2", SETTINGS) == "s3://xmatch/runs/r2"
    assert results_uri(None, "s3://other/r3", SETTINGS) == "s3://other/r3"
    with pytest.raises(ValueError):
        results_uri(None, None, SETTINGS)


def test_param_run_id_wins_over_events():
    events = {"s3://xmatch/runs": [Event({"run_id": "from-event"})]}
    assert runs_to_load({"run_id": "manual"}, events, SETTINGS) == ["s3://xmatch/manual"]


def test_events_in_time_order_without_duplicates():
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    events = {"s3://xmatch/runs": [
        Event({"run_id": "late", "prefix": "xmatch/late"}, t0.replace(day=3)),
        Event({"run_id": "early"}, t0),
        Event({"run_id": "late", "prefix": "xmatch/late"}, t0.replace(day=2)),
    ]}
    assert runs_to_load({"run_id": None}, events, SETTINGS) == ["s3://xmatch/early", "s3://xmatch/late"]


def test_nothing_to_load_is_a_clear_error():
    with pytest.raises(ValueError, match="no run to load"):
        runs_to_load({}, {"s3://xmatch/runs": [Event({})]}, SETTINGS)


def test_only_set_cuts_reach_dbt():
    assert dbt_vars({"run_id": "x", "grade_a_min_probability": 0.99, "grade_b_min_probability": None}) == {
        "grade_a_min_probability": 0.99}


def test_dbt_env_from_dsn_keeps_password_secret_var():
    env = dbt_runner.dbt_env("postgresql://radiolake:p%40ss%2Fw@db.example:6543/warehouse", base={})
    assert env["RADIOLAKE_DBT_HOST"] == "db.example"
    assert env["RADIOLAKE_DBT_PORT"] == "6543"
    assert env["RADIOLAKE_DBT_USER"] == "radiolake"
    assert env["RADIOLAKE_DBT_DBNAME"] == "warehouse"
    assert env["DBT_ENV_SECRET_RADIOLAKE_PASSWORD"] == "p@ss/w"
    assert "p@ss/w" not in {v for k, v in env.items() if not k.startswith("DBT_ENV_SECRET_")}


def test_dbt_sessions_keep_the_timeouts_and_get_the_bulk_query_settings():
    options = dbt_runner.dbt_env("postgresql://radiolake:pw@db.example:6543/warehouse", base={})["PGOPTIONS"]
    assert "-c statement_timeout=" in options and "-c lock_timeout=" in options
    assert "-c jit=off" in options and "-c enable_mergejoin=off" in options and "-c work_mem=256MB" in options


def test_failures_name_the_failing_nodes():
    results = [
        {"unique_id": "model.radiolake.stg_runs", "status": "success", "message": "SELECT"},
        {"unique_id": "model.radiolake.sky_summary", "status": "error",
         "message": "column\n x does not exist"},
        {"unique_id": "test.radiolake.unique_stg_best_radio_key.abc", "status": "fail", "message": "Got 2"},
    ]
    assert dbt_runner.failures(results) == [
        "model.radiolake.sky_summary (error): column x does not exist",
        "test.radiolake.unique_stg_best_radio_key.abc (fail): Got 2",
    ]
    error = dbt_runner.DbtError("build", dbt_runner.failures(results))
    assert "sky_summary" in str(error) and "unique_stg_best_radio_key" in str(error)


def test_missing_dbt_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("RADIOLAKE_DBT_BIN", str(tmp_path / "no-dbt"))
    with pytest.raises(ConfigError, match="dbt-postgres"):
        dbt_runner.dbt_executable()
