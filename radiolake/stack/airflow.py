"""Airflow 3 for the embedded stack: api-server (with the UI), scheduler, dag-processor, triggerer.

LocalExecutor, metadata in the stack's PostgreSQL, DAGs from this repository's `dags/`, the simple auth
manager with an `admin` user whose password is generated into the state directory. Every component gets the
same environment, which also carries the RADIOLAKE_* settings so tasks reach the lake and the warehouse, plus
the token-signing keys it needs (`SIGNING_KEYS`): tasks get none (radiolake.task_executor).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from radiolake.config import AIRFLOW_DB, AIRFLOW_ROLE, WAREHOUSE_DB, WAREHOUSE_ROLE, repo_root
from radiolake.stack.errors import StackError, tail
from radiolake.stack.ports import HOST, is_port_free
from radiolake.stack.postgres import Postgres
from radiolake.stack.process import ManagedProcess
from radiolake.stack.state import UMASK, StateDir, append_private

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: Airflow 3.3's worker and triggerer log servers bind every interface (airflow/utils/serve_logs/core.py
#: passes host="" to uvicorn; no setting moves it). Embedded, every component shares one disk, so the
#: api-server reads task and trigger logs from the files directly: the log servers are not started at all.
SERVE_LOGS_OFF = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}
ADMIN_USER = "admin"
#: A read-only account (Airflow role `viewer`): sees DAGs and runs, may not read the lake's buckets.
VIEWER_USER = "viewer"


#: Which component holds which token-signing key (env name -> secret name). The api-server signs and checks
#: every token (JWT secret) and log-fetch tokens (API secret key); the scheduler signs each task's
#: execution-API token. The dag-processor and the triggerer talk to an in-process execution API that takes no
#: token, and the scheduler's task workers drop what they inherit (radiolake.task_executor).
SIGNING_KEYS = {
    "api-server": {"AIRFLOW__API_AUTH__JWT_SECRET": "airflow_jwt_secret",
                   "AIRFLOW__API__SECRET_KEY": "airflow_secret_key"},
    "scheduler": {"AIRFLOW__API_AUTH__JWT_SECRET": "airflow_jwt_secret"},
}


def signing_env(component: str, secrets: dict[str, str]) -> dict[str, str]:
    """The signing keys `component` needs, as environment variables (none for most)."""
    return {var: secrets[name] for var, name in SIGNING_KEYS.get(component, {}).items()}


def _as_utc(timestamp: str) -> datetime:
    moment = datetime.fromisoformat(timestamp)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def airflow_env(state: StateDir, ports: dict[str, int], secrets: dict[str, str], pg: Postgres) -> dict[str, str]:
    """The environment every Airflow component (and in-process `dag.test()`) runs with."""
    home = state.root / "airflow"
    url = f"http://{HOST}:{ports['airflow']}"
    venv_bin = str(Path(sys.executable).parent)
    metadata = pg.dsn(AIRFLOW_ROLE, AIRFLOW_DB).replace("postgresql://", "postgresql+psycopg2://", 1)
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": os.environ.get("RADIOLAKE_DAGS_FOLDER", str(repo_root() / "dags")),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # Astronomer Cosmos (the dbt tasks) reports usage to its vendor by default: nothing leaves the machine.
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # The bucket browser plugin (plugins/radiolake_buckets.py), behind the Airflow login.
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(repo_root() / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "radiolake.task_executor.ScopedLocalExecutor",
        # Each executor worker parses the DAG folder once, so the tasks it forks start with Airflow, Cosmos
        # and the libraries loaded (radiolake.task_executor.warm_up): a dbt model's task is then mostly
        # its own work, not imports.
        "RADIOLAKE_TASK_WARM_UP": os.environ.get("RADIOLAKE_TASK_WARM_UP", "1"),
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        # New DAGs run at once by default (a demo should not need an unpause click); tests pause them so
        # Asset-scheduled DAGs do not wake up in the background.
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": os.environ.get("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
                                                                     "False"),
        "AIRFLOW__CORE__FERNET_KEY": secrets["airflow_fernet_key"],
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin,{VIEWER_USER}:viewer",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(ports["airflow"]),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__API__WORKERS": "1",
        # Task logs in the state directory are private to the stack's account, like every file there.
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["airflow_worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["airflow_trigger_logs"]),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "15",
        # An unchanged DAG file is parsed again every 2 minutes, not every 30 s (each parse is a cold process
        # importing Cosmos and the project: CPU taken from the tasks on a small machine); a file whose
        # mtime changed is parsed at once either way.
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": os.environ.get(
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL", "120"),
        # How long a task's supervisor may sleep between looks at its task process (default 5 s). It sees the
        # process's exit only at such a look, and the executor's worker slot stays taken until then: with 5 s
        # a one-second dbt model task held its slot for 5 s more (benchmarks/pipeline.py's timeline). Also
        # the supervisor's heartbeat period, one small API call per running task.
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": os.environ.get("AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL", "1"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW_CONN_RADIOLAKE_WAREHOUSE": pg.dsn(WAREHOUSE_ROLE, WAREHOUSE_DB),
        "RADIOLAKE_HOME": str(state.root),
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(repo_root()),
    }
    return env


@dataclass
class Airflow:
    state: StateDir
    ports: dict[str, int]
    secrets: dict[str, str]
    pg: Postgres

    @property
    def home(self) -> Path:
        return self.state.root / "airflow"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.ports['airflow']}"

    @property
    def env(self) -> dict[str, str]:
        return airflow_env(self.state, self.ports, self.secrets, self.pg)

    def processes(self) -> list[ManagedProcess]:
        airflow = str(Path(sys.executable).parent / "airflow")
        return [ManagedProcess(f"airflow-{c}", [airflow, c, *SERVE_LOGS_OFF.get(c, ())], self.state,
                               {**self.env, **signing_env(c, self.secrets)}, cwd=self.home)
                for c in COMPONENTS]

    def _write_passwords(self) -> None:
        path = self.home / "passwords.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({ADMIN_USER: self.secrets["airflow_admin_password"],
                       VIEWER_USER: self.secrets["airflow_viewer_password"]}, fh)

    def migrate(self, timeout: float = 300.0) -> None:
        log = self.state.log_file("airflow-migrate")
        airflow = str(Path(sys.executable).parent / "airflow")
        with append_private(log) as fh:
            try:
                result = subprocess.run([airflow, "db", "migrate"], stdout=fh, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env}, cwd=self.home, timeout=timeout,
                                        umask=UMASK)
            except subprocess.TimeoutExpired as exc:
                raise StackError("airflow-migrate", f"`airflow db migrate` timed out after {timeout:.0f} s",
                                 log, tail(log)) from exc
        if result.returncode != 0:
            raise StackError("airflow-migrate", "`airflow db migrate` failed", log, tail(log))

    def start(self, timeout: float = 180.0) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._write_passwords()
        procs = self.processes()
        if all(p.pid() is None for p in procs):
            for name in ("airflow", "airflow_worker_logs", "airflow_trigger_logs"):
                if not is_port_free(self.ports[name]):
                    raise StackError("airflow-api-server" if name == "airflow" else name,
                                     f"port {self.ports[name]} on {HOST} is in use by another process "
                                     "(set RADIOLAKE_AIRFLOW_PORT, or free it)",
                                     self.state.log_file("airflow-api-server"))
        since = datetime.now(UTC)
        self.migrate()
        # A component that lived through a restart of the metadata database is replaced: it may be about to
        # exit (the triggerer stops its trigger runner first), and one that exits after this check would
        # never send the heartbeat waited for below.
        database_start = self.pg.restarted_at()
        for proc in reversed(procs):
            if (started := proc.started_at()) is not None and started < database_start:
                proc.stop()
        for proc in procs:
            proc.start()
        api = procs[0]
        api.wait_ready(lambda: self._all_healthy(since), timeout, "api-server /api/v2/monitor/health with "
                       "scheduler, dag-processor and triggerer heartbeats newer than this start", also=procs[1:])

    def health(self) -> dict:
        resp = httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5)
        resp.raise_for_status()
        return resp.json()

    def _all_healthy(self, since: datetime) -> bool:
        """Every part healthy, each job with a heartbeat after `since`. "healthy" alone counts a heartbeat
        up to 30 s old: after the metadata database restarted, a component that lost it (and may be about to
        exit) still looks healthy on the heartbeat it wrote before, so `start()` would return too early."""
        health = self.health()
        if (health.get("metadatabase") or {}).get("status") != "healthy":
            return False
        for part in ("scheduler", "triggerer", "dag_processor"):
            info = health.get(part) or {}
            beat = info.get(f"latest_{part}_heartbeat")
            if info.get("status") != "healthy" or not beat or _as_utc(beat) < since:
                return False
        return True

    def stop(self) -> None:
        # Scheduler first, so it stops launching tasks, then the rest.
        for proc in reversed(self.processes()):
            proc.stop()
