"""A Spark standalone cluster for the embedded stack: one master and N workers, from pip's pyspark.

Off by default: on a 2-core laptop `local[*]` in the task's own process is the cheaper way to use both cores;
the cluster is for trying the job as it runs on real clusters (and for the tests that prove it does).
`radiolake stack up --spark-workers N` (or `RADIOLAKE_SPARK_WORKERS=N`) starts it; then `radiolake crossmatch`
and the Airflow tasks submit to it, because configuration falls back to the running stack's master URL.

The web UIs have no login, so they may only look: killing applications (`/app/kill/`) and decommissioning
workers (`/workers/kill/`) are off, and ACLs are on (`CLUSTER_UI_SETTINGS`). Everything binds to 127.0.0.1
(RPC through `--host`, the web UIs through SPARK_LOCAL_IP), and the cluster runs
with `spark.authenticate`: master, workers and drivers share a generated secret, given to the JVMs in the
environment (`_SPARK_AUTH_SECRET`, which Spark reads first), never on a command line that `ps` shows to every
user. A driver without the secret is refused, so nobody else on the machine can run code on these workers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from radiolake.config import SPARK_CLUSTER_FILE
from radiolake.stack.errors import StackError
from radiolake.stack.ports import HOST, is_port_free
from radiolake.stack.process import ManagedProcess
from radiolake.stack.state import PORT_ENV, StateDir, write_private

MASTER = "spark-master"
WORKER_PREFIX = "spark-worker-"
#: Spark reads the authentication secret from this variable before its configuration (SecurityManager).
AUTH_SECRET_ENV = "_SPARK_AUTH_SECRET"
#: What the master's and workers' web UIs may do: look only. Anyone on the machine reaches 127.0.0.1 and the UIs
#: ask for no login, so nothing there may kill an application or take a worker out. With ACLs on, only the
#: account that started the cluster may modify (a login filter would name the user; without one, the settings
#: above are what keeps the UI read-only).
CLUSTER_UI_SETTINGS = {
    "spark.ui.killEnabled": "false",
    "spark.master.ui.decommission.allow.mode": "DENY",
    "spark.acls.enable": "true",
}


def spark_home() -> Path:
    """pyspark's package folder: it ships bin/spark-class and the jars."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise StackError(MASTER, "pyspark is not installed in this Python environment")
    return Path(spec.origin).parent


def worker_count(wanted: int | None, running: int) -> int:
    """Workers to run: the explicit choice, else RADIOLAKE_SPARK_WORKERS, else as many as run now (0: off)."""
    if wanted is None:
        raw = os.environ.get("RADIOLAKE_SPARK_WORKERS", "").strip()
        if not raw:
            return running
        try:
            wanted = int(raw)
        except ValueError as exc:
            raise StackError(MASTER, f"RADIOLAKE_SPARK_WORKERS={raw!r} is not a number") from exc
    if not 0 <= wanted <= 16:
        raise StackError(MASTER, f"{wanted} Spark workers: choose 0 (no cluster) to 16")
    return wanted


def _port_names(service: str) -> list[str]:
    """The ports.json entries a service listens on."""
    if service == MASTER:
        return ["spark_master", "spark_master_ui"]
    i = service[len(WORKER_PREFIX):]
    return [f"spark_worker_{i}", f"spark_worker_{i}_ui"]


@dataclass
class SparkCluster:
    state: StateDir
    ports: dict[str, int]
    secrets: dict[str, str]

    # --- layout -------------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.state.root / "spark"

    @property
    def cluster_file(self) -> Path:
        return self.state.root / SPARK_CLUSTER_FILE

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.ports['spark_master']}"

    @property
    def ui_url(self) -> str:
        return f"http://{HOST}:{self.ports['spark_master_ui']}"

    def recorded_workers(self) -> int:
        try:
            return int(json.loads(self.cluster_file.read_text())["workers"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0

    def _env(self) -> dict[str, str]:
        venv_bin = str(Path(sys.executable).parent)
        return {
            "SPARK_HOME": str(spark_home()),
            "SPARK_CONF_DIR": str(self.root / "conf"),  # nothing from a conf dir elsewhere leaks in
            "SPARK_LOCAL_IP": HOST,  # the web UIs bind here (RPC binds to --host)
            "PYSPARK_PYTHON": sys.executable,
            "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
            # Executors fall back to the state directory for RADIOLAKE_* settings the driver did not pass.
            "RADIOLAKE_HOME": str(self.state.root),
            AUTH_SECRET_ENV: self.secrets["spark_auth_secret"],
        }

    def _properties(self) -> Path:
        """Settings shared by master and workers (no secret in here)."""
        path = self.root / "conf" / "cluster.properties"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(
            path,
            "spark.authenticate true\n"
            "spark.master.rest.enabled false\n"
            "spark.ui.reverseProxy false\n"
            # Finished applications' folders (executor logs, shipped files) are swept after a day.
            "spark.worker.cleanup.enabled true\n"
            "spark.worker.cleanup.appDataTtl 86400\n"
            + "".join(f"{key} {value}\n" for key, value in CLUSTER_UI_SETTINGS.items())
        )
        return path

    def master(self) -> ManagedProcess:
        argv = [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
                "--host", HOST, "--port", str(self.ports["spark_master"]),
                "--webui-port", str(self.ports["spark_master_ui"]),
                "--properties-file", str(self.root / "conf" / "cluster.properties")]
        return ManagedProcess(MASTER, argv, self.state, self._env(), cwd=self.root)

    def worker(self, i: int, ports: dict[str, int]) -> ManagedProcess:
        cores = os.environ.get("RADIOLAKE_SPARK_WORKER_CORES", "1")
        memory = os.environ.get("RADIOLAKE_SPARK_WORKER_MEMORY", "2g")
        work = self.root / "work" / f"worker-{i}"
        argv = [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker",
                "--host", HOST, "--port", str(ports[f"spark_worker_{i}"]),
                "--webui-port", str(ports[f"spark_worker_{i}_ui"]),
                "--cores", cores, "--memory", memory, "--work-dir", str(work),
                "--properties-file", str(self.root / "conf" / "cluster.properties"), self.master_url]
        return ManagedProcess(f"{WORKER_PREFIX}{i}", argv, self.state, self._env(), cwd=self.root)

    def _repick_taken_ports(self, workers: int) -> None:
        """New ports for services not running whose unpinned ports another process holds now.

        The cluster starts long after `stack up` chose its ports, and until it binds them any outgoing
        connection may get one as its ephemeral port; nothing has the cluster's URL before it starts (the
        cluster file is written after), so choosing again is safe. Pinned ports still fail in `start`."""
        ports = self._worker_ports(workers)
        idle = [p.service for p in (self.master(), *(self.worker(i, ports) for i in range(workers)))
                if p.pid() is None]
        taken = [n for service in idle for n in _port_names(service)
                 if not is_port_free(ports[n]) and not os.environ.get(PORT_ENV.get(n, ""))]
        if taken:
            fresh = self.state.repick_ports(taken)
            self.ports.update({n: fresh[n] for n in taken if n in self.ports})

    def _worker_ports(self, n: int) -> dict[str, int]:
        names = [name for i in range(n) for name in _port_names(f"{WORKER_PREFIX}{i}")]
        return self.state.extra_ports(names)

    def worker_processes(self) -> list[ManagedProcess]:
        """Every worker with a PID file, whatever count it was started with."""
        found = sorted(self.state.run.glob(f"{WORKER_PREFIX}*.pid"))
        indices = sorted(int(p.stem[len(WORKER_PREFIX):]) for p in found if p.stem[len(WORKER_PREFIX):].isdigit())
        ports = self._worker_ports(max(indices, default=-1) + 1)
        return [self.worker(i, ports) for i in indices]

    # --- lifecycle ----------------------------------------------------------------------------------------
    def start(self, workers: int, timeout: float = 90.0) -> None:
        """Run the master and exactly `workers` workers (0: stop the cluster); wait until all are registered."""
        if workers == 0:
            self.stop()
            return
        for extra in self.worker_processes():  # fewer workers than last time
            if int(extra.service[len(WORKER_PREFIX):]) >= workers:
                extra.stop()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._properties()
        self._repick_taken_ports(workers)
        master = self.master()
        ports = self._worker_ports(workers)
        procs = [master, *(self.worker(i, ports) for i in range(workers))]
        for proc in procs:
            if proc.pid() is not None:
                continue
            names = _port_names(proc.service)
            taken = [f"{n}={ports[n]}" for n in names if not is_port_free(ports[n])]
            if taken:
                pin = " (or pin RADIOLAKE_SPARK_MASTER_PORT / RADIOLAKE_SPARK_UI_PORT)" if proc is master else ""
                raise StackError(proc.service, f"ports in use by another process: {', '.join(taken)}; free them "
                                 f"or delete their entries from {self.state.ports_file}{pin}", proc.log_file)
            proc.start()
            if proc is master:
                master.wait_ready(lambda: self.master_state().get("status") == "ALIVE", timeout,
                                  f"master UI {self.ui_url}/json/ reporting ALIVE")
        for proc in procs[1:]:
            proc.wait_ready(lambda p=proc: self._registered(p), timeout,
                            f"worker registered ALIVE with {self.master_url}")
        self.cluster_file.parent.mkdir(parents=True, exist_ok=True)
        cores = workers * int(os.environ.get("RADIOLAKE_SPARK_WORKER_CORES", "1"))
        write_private(self.cluster_file, json.dumps({"master": self.master_url, "ui": self.ui_url,
                                                     "workers": workers, "cores": cores}) + "\n")

    def _registered(self, proc: ManagedProcess) -> bool:
        i = proc.service[len(WORKER_PREFIX):]
        port = self._worker_ports(int(i) + 1)[f"spark_worker_{i}"]
        workers = self.master_state().get("workers", [])
        return any(w.get("state") == "ALIVE" and w.get("port") == port for w in workers)

    def stop(self) -> None:
        self.cluster_file.unlink(missing_ok=True)  # first: nobody submits to a cluster going away
        for proc in self.worker_processes():
            proc.stop()
        self.master().stop()

    # --- what a user needs to know ------------------------------------------------------------------------
    def master_state(self) -> dict:
        """The master's own report (`/json/`): status, workers, applications."""
        resp = httpx.get(f"{self.ui_url}/json/", timeout=5)
        resp.raise_for_status()
        return resp.json()

    def running(self) -> bool:
        return self.master().pid() is not None

    def status(self) -> tuple[bool, str]:
        """(healthy, detail) for `stack status`: healthy when every started worker is registered ALIVE."""
        wanted = self.recorded_workers()
        try:
            report = self.master_state()
        except Exception as exc:  # noqa: BLE001 - status reports, it does not raise
            return False, f"master not answering at {self.ui_url} ({type(exc).__name__})"
        alive = sum(1 for w in report.get("workers", []) if w.get("state") == "ALIVE")
        ok = report.get("status") == "ALIVE" and alive >= wanted
        return ok, (f"{self.master_url}, {alive}/{wanted} workers alive, {len(report.get('activeapps', []))} "
                    f"running apps, UI {self.ui_url}, log {self.state.log_file(MASTER)}")
