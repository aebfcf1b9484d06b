"""Issue 24 item 6 against the real stack: the warehouse DAG validates the Asset event extras it loads.

Whoever may create asset events (REST `POST /api/v2/assets/events`, a trigger-level permission) chooses
their `extra`. Before, an extra `{"prefix": "s3://reports/<x>"}` made the warehouse DAG load a results
folder planted outside the xmatch bucket. Now the load task fails naming the extra, and nothing is loaded.
The event goes through the stack's own API server and scheduler, as an attacker's would.
"""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest

from radiolake.app.airflow_client import AirflowRunFailed
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.warehouse.sample_run import write_sample_run

pytestmark = pytest.mark.integration

XMATCH_RUNS = "s3://xmatch/runs"


def _run_ids(api, dag_id: str) -> set[str]:
    resp = api.get(f"/dags/{dag_id}/dagRuns", params={"limit": 1000})
    resp.raise_for_status()
    return {r["dag_run_id"] for r in resp.json()["dag_runs"]}


def _task_log(api, dag_id: str, run_id: str, task_id: str) -> str:
    resp = api.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/1",
                   params={"full_content": "true"}, headers={"Accept": "application/json"})
    resp.raise_for_status()
    content = resp.json().get("content", "")
    return content if isinstance(content, str) else "\n".join(str(item) for item in content)


def test_warehouse_refuses_an_asset_event_extra_outside_the_xmatch_runs_and_loads_nothing(stack):
    settings = stack.settings
    ensure_buckets(settings)
    planted = f"planted-{uuid.uuid4().hex[:8]}"
    prefix = f"s3://{settings.bucket('reports')}/{planted}"
    write_sample_run(f"{settings.bucket('reports')}/{planted}", n_pairs=50, seed=7, run_id=planted,
                     filesystem=arrow_fs(settings))
    stack.airflow.wait_for_dag("warehouse", timeout=240)

    with stack.airflow._client() as api:
        assets = api.get("/assets", params={"uri_pattern": XMATCH_RUNS, "limit": 100})
        assets.raise_for_status()
        asset_id = next(a["id"] for a in assets.json()["assets"] if a["uri"] == XMATCH_RUNS)
        before = _run_ids(api, "warehouse")
        api.patch("/dags/warehouse", json={"is_paused": False}).raise_for_status()
        try:
            posted = api.post("/assets/events", json={"asset_id": asset_id,
                                                       "extra": {"run_id": planted, "prefix": prefix}})
            posted.raise_for_status()
            deadline = time.monotonic() + 300
            new: set[str] = set()
            while not new and time.monotonic() < deadline:  # the scheduler creates the asset-triggered run
                new = _run_ids(api, "warehouse") - before
                if not new:
                    time.sleep(2)
            assert len(new) == 1, f"the asset event scheduled {len(new)} warehouse runs"
            (run_id,) = new
            with pytest.raises(AirflowRunFailed):
                stack.airflow.wait_for_run("warehouse", run_id, timeout=900)
        finally:  # Asset-scheduled DAGs must not wake up behind other tests
            api.patch("/dags/warehouse", json={"is_paused": True}).raise_for_status()
        states = stack.airflow.task_states("warehouse", run_id)
        log_text = _task_log(api, "warehouse", run_id, "load")

    assert states["load"] == "failed"
    assert not any(state == "success" for task, state in states.items() if task != "load"), states
    tail = log_text[-4000:]
    assert "asset event extra prefix" in log_text and "outside the run folders" in log_text, tail
    assert planted in log_text, tail
    with psycopg.connect(settings.warehouse_dsn) as conn:
        loaded = 0
        if conn.execute("SELECT to_regclass('load.runs')").fetchone()[0] is not None:
            loaded = conn.execute("SELECT count(*) FROM load.runs WHERE run_id = %s OR source_uri LIKE %s",
                                  (planted, f"%{planted}%")).fetchone()[0]
    assert loaded == 0, "the planted results folder was loaded"
