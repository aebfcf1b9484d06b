"""Every task of every DAG has an execution_timeout (a stuck task fails instead of holding its slot
forever), taken from radiolake.timeouts and configurable by environment."""

from __future__ import annotations

from datetime import timedelta

import pytest

from radiolake.config import repo_root
from radiolake.timeouts import TASK_MINUTES, role_limits, task_timeout


@pytest.fixture(scope="module")
def dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(repo_root() / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def test_every_task_has_an_execution_timeout(dags):
    assert {"radiolake_pipeline", "crossmatch", "warehouse", "radiolake_smoke"} <= set(dags)
    missing = [f"{d.dag_id}.{t.task_id}" for d in dags.values() for t in d.tasks if t.execution_timeout is None]
    assert missing == []
    longest = max(t.execution_timeout for d in dags.values() for t in d.tasks)
    assert longest <= timedelta(minutes=max(TASK_MINUTES.values()))


def test_timeouts_are_configurable_and_checked(monkeypatch):
    monkeypatch.setenv("RADIOLAKE_TIMEOUT_DBT_MINUTES", "7.5")
    assert task_timeout("dbt") == timedelta(minutes=7.5)
    monkeypatch.setenv("RADIOLAKE_PG_LOCK_TIMEOUT_MS", "2500")
    assert role_limits("radiolake")["lock_timeout"] == 2500
    monkeypatch.setenv("RADIOLAKE_TIMEOUT_DBT_MINUTES", "0")
    with pytest.raises(ValueError, match="RADIOLAKE_TIMEOUT_DBT_MINUTES"):
        task_timeout("dbt")
