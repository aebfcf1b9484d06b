"""The whole embedded stack: bring it up in order, report on it, take it down leaving no process behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from radiolake.buckets import URL_PREFIX as BUCKETS_PREFIX
from radiolake.config import ANALYST_ROLE, WAREHOUSE_DB, WAREHOUSE_ROLE, Settings
from radiolake.stack.airflow import ADMIN_USER, Airflow
from radiolake.stack.errors import StackError
from radiolake.stack.objectstore import ObjectStore
from radiolake.stack.postgres import Postgres, traverse_gid
from radiolake.stack.process import kill_strays, stack_processes
from radiolake.stack.spark import SparkCluster, worker_count
from radiolake.stack.state import StateDir

log = logging.getLogger(__name__)

SERVICES = ("postgres", "objectstore", "spark", "airflow")


@dataclass
class ServiceStatus:
    name: str
    healthy: bool
    detail: str


class Stack:
    """Postgres → object store → (Spark cluster) → Airflow, under one state directory."""

    def __init__(self, state: StateDir | None = None, env: dict[str, str] | None = None) -> None:
        self.state = state or StateDir.from_env(env)
        self.state.prepare(traverse_gid())
        self.ports = self.state.ports(env)
        self.secrets = self.state.secrets()
        self.postgres = Postgres(self.state, self.ports["postgres"], self.secrets)
        self.objectstore = ObjectStore(self.state, self.ports, self.secrets)
        self.airflow = Airflow(self.state, self.ports, self.secrets, self.postgres)
        self.spark = SparkCluster(self.state, self.ports, self.secrets)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def up(self, with_airflow: bool = True, spark_workers: int | None = None) -> None:
        """Start what is not running. On a failure, stop the service that failed and every service this
        call started: never a half-started stack, and a failed restart of one service never takes down the
        others that already ran (on a fresh start that is everything, as `down`).

        `spark_workers`: workers of the standalone Spark cluster (0: none); None keeps what runs now, or
        RADIOLAKE_SPARK_WORKERS when set.
        """
        running = self.spark.recorded_workers() if self.spark.running() else 0
        workers = worker_count(spark_workers, running)
        steps = [("postgres", self.postgres.start), ("objectstore", self.objectstore.start)]
        if workers or running:
            steps.append(("spark", lambda: self.spark.start(workers)))
        if with_airflow:
            steps.append(("airflow", self.airflow.start))
        ran_before = self._running()
        tried: list[str] = []
        try:
            for name, start in steps:
                log.info("starting %s", name)
                tried.append(name)
                start()
        except BaseException:
            if not any(ran_before.values()):
                self.down()
            else:
                self._stop([n for n in reversed(tried) if n == tried[-1] or not ran_before[n]])
            raise

    def _running(self) -> dict[str, bool]:
        return {"postgres": self.postgres.running(), "objectstore": self.objectstore.pid() is not None,
                "spark": self.spark.running(),
                "airflow": any(p.pid() is not None for p in self.airflow.processes())}

    def _stop(self, names: list[str]) -> None:
        """Stop these services, logging (not raising) what fails: the caller is raising a start failure."""
        stops = {"airflow": self.airflow.stop, "spark": self.spark.stop, "objectstore": self.objectstore.stop,
                 "postgres": self.postgres.stop}
        for name in names:
            try:
                stops[name]()
            except StackError as exc:
                log.warning("%s", exc)

    def down(self) -> int:
        """Stop every service; returns how many stray processes had to be killed afterwards."""
        errors: list[str] = []
        for stop in (self.airflow.stop, self.spark.stop, self.objectstore.stop, self.postgres.stop):
            try:
                stop()
            except StackError as exc:
                errors.append(str(exc))
        strays = kill_strays(self.state.root)
        if errors:
            raise StackError("stack", "some services did not stop cleanly:\n" + "\n".join(errors))
        return strays

    # --- what a user needs to know ------------------------------------------------------------------------
    def settings(self) -> Settings:
        """Settings pointing at this stack, whatever RADIOLAKE_* the caller's environment has."""
        return self.state.settings()

    def status(self) -> list[ServiceStatus]:
        statuses = [ServiceStatus("postgres", self.postgres.healthy(),
                                  f"port {self.ports['postgres']}, log {self.state.log_file('postgres')}"),
                    ServiceStatus("objectstore", self.objectstore.healthy(),
                                  f"{self.objectstore.kind} at {self.objectstore.endpoint}, "
                                  f"log {self.state.log_file('objectstore')}")]
        try:
            health = self.airflow.health()
            parts = {k: (v or {}).get("status") for k, v in health.items()}
            ok = all(s == "healthy" for s in parts.values())
            detail = ", ".join(f"{k}={v}" for k, v in parts.items())
        except Exception as exc:  # noqa: BLE001 - status reports, it does not raise
            ok, detail = False, f"not answering ({type(exc).__name__})"
        statuses.append(ServiceStatus("airflow", ok, detail))
        if self.spark.running() or self.spark.recorded_workers():
            statuses.append(ServiceStatus("spark", *self.spark.status()))
        return statuses

    def endpoints(self, show_secrets: bool = False) -> dict[str, str]:
        """Every URL and DSN, passwords masked unless `show_secrets` (the CLI's --show-secrets)."""
        from radiolake.masking import mask_secrets

        show = (lambda v: v) if show_secrets else mask_secrets
        return {name: show(value) for name, value in self._endpoints().items()}

    def _endpoints(self) -> dict[str, str]:
        console = {"MinIO console": self.objectstore.console_url} if self.objectstore.console_url else {}
        return {
            "Airflow UI": f"{self.airflow.url}  (user {ADMIN_USER}, password in {self.state.secrets_file})",
            "Airflow REST API": f"{self.airflow.url}/api/v2",
            "Object store (S3 API)": self.objectstore.endpoint,
            "Bucket browser": f"{self.bucket_browser_url}  (Airflow login)",
            **console,
            "Warehouse DSN": self.postgres.dsn(WAREHOUSE_ROLE, WAREHOUSE_DB),
            "Analyst DSN (marts, read-only)": self.postgres.dsn(ANALYST_ROLE, WAREHOUSE_DB),
            "Airflow metadata DB": self.postgres.dsn("airflow", "airflow"),
            "Spark master": self.settings().spark_master,
            **({"Spark master UI": self.spark.ui_url} if self.spark.running() else {}),
            "State directory": str(self.state.root),
        }

    @property
    def bucket_browser_url(self) -> str:
        """The buckets and reports, behind the Airflow login (radiolake.buckets); nothing else serves them."""
        return f"{self.airflow.url}{BUCKETS_PREFIX}/"

    def running_processes(self) -> list[int]:
        return [p.pid for p in stack_processes(self.state.root)]
