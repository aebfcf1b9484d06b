"""A small client for the Airflow 3 REST API (`/api/v2`): token, list DAGs, trigger a run, wait for it.

Used by the CLI (`radiolake demo`) and the tests, so both drive Airflow the way a user's tooling would.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx

TERMINAL = {"success", "failed"}


class AirflowRunFailed(RuntimeError):
    pass


@dataclass
class AirflowClient:
    """The password stays out of repr/str: a failing test or a log that prints the client must not show it."""

    base_url: str
    username: str
    password: str = field(repr=False)
    timeout: float = 30.0

    def _token(self) -> str:
        resp = httpx.post(f"{self.base_url}/auth/token", timeout=self.timeout,
                          json={"username": self.username, "password": self.password})
        resp.raise_for_status()
        return resp.json()["access_token"]

    def _client(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.base_url}/api/v2", timeout=self.timeout,
                            headers={"Authorization": f"Bearer {self._token()}"})

    def dag_ids(self) -> list[str]:
        with self._client() as client:
            resp = client.get("/dags", params={"limit": 1000})
            resp.raise_for_status()
            return sorted(d["dag_id"] for d in resp.json()["dags"])

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has parsed `dag_id` (new files take a refresh interval)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dag_id in self.dag_ids():
                return
            time.sleep(2)
        raise TimeoutError(f"DAG {dag_id!r} not listed by the API after {timeout:.0f} s")

    def import_errors(self) -> list[dict]:
        with self._client() as client:
            resp = client.get("/importErrors")
            resp.raise_for_status()
            return resp.json().get("import_errors", [])

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        with self._client() as client:
            resp = client.patch(f"/dags/{dag_id}", json={"is_paused": False})
            if resp.status_code >= 400:
                raise AirflowRunFailed(f"cannot unpause {dag_id} ({resp.status_code}): {resp.text}")
            resp = client.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
            if resp.status_code >= 400:
                raise AirflowRunFailed(f"trigger of {dag_id} refused ({resp.status_code}): {resp.text}")
            return resp.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        with self._client() as client:
            resp = client.get(f"/dags/{dag_id}/dagRuns/{run_id}")
            resp.raise_for_status()
            return resp.json()["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        with self._client() as client:
            # a page holds 50 by default; the pipeline has more (a task per dbt model and test)
            resp = client.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
            resp.raise_for_status()
            return {t["task_id"]: t["state"] for t in resp.json()["task_instances"]}

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600.0, poll: float = 3.0,
                     on_poll=None) -> str:
        """Block until the run ends; raise with the failed tasks named if it did not succeed."""
        deadline = time.monotonic() + timeout
        state = "queued"
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            if on_poll:
                on_poll(state)
            if state in TERMINAL:
                break
            time.sleep(poll)
        else:
            raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout:.0f} s")
        if state != "success":
            failed = {t: s for t, s in self.task_states(dag_id, run_id).items() if s not in ("success", "skipped")}
            raise AirflowRunFailed(f"run {run_id} of {dag_id} ended {state}; tasks not successful: {failed}")
        return state
