"""Issue 24, items 2, 3, 7 and 8 at unit level: what the embedded stack configures and writes.

The integration side (real stack, real Spark UI, a real Airflow task) is tests/integration/test_open_doors_stack.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from radiolake.config import DEFAULT_BUCKETS
from radiolake.stack.airflow import COMPONENTS, airflow_env, signing_env
from radiolake.stack.objectstore import (
    MINIO_PIPELINE_POLICY,
    ObjectStore,
    minio_pipeline_policy,
    provision_minio_pipeline,
)
from radiolake.stack.postgres import Postgres
from radiolake.stack.process import ManagedProcess
from radiolake.stack.spark import SparkCluster
from radiolake.stack.state import StateDir, write_private
from radiolake.task_executor import drop_signing_keys

REPO = Path(__file__).resolve().parents[2]
BUCKETS = list(DEFAULT_BUCKETS.values())


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def state(tmp_path: Path) -> StateDir:
    s = StateDir(tmp_path / "home")
    s.prepare()
    return s


# --- item 2: private state directory ------------------------------------------------------------------------
def test_prepare_makes_the_state_dir_private_and_tightens_what_an_older_version_left(tmp_path: Path):
    home = tmp_path / "home"
    StateDir(home).prepare()
    (home / "objectstore" / "data").mkdir(parents=True)
    old = home / "objectstore" / "data" / "1.dat"
    old.write_text("lake bytes")
    old.chmod(0o644)
    (home / "objectstore").chmod(0o755)
    home.chmod(0o755)
    StateDir(home).prepare()
    assert _mode(home) == 0o700
    assert _mode(home / "logs") == 0o700 and _mode(home / "run") == 0o700
    assert _mode(home / "objectstore") == 0o700
    assert _mode(old) == 0o600
    assert _mode(home / "state.json") == 0o600


def test_prepare_lets_only_the_postgres_group_pass_through(tmp_path: Path):
    home = tmp_path / "home"
    gid = os.getgid() + 1 if os.geteuid() == 0 else os.getgid()  # root may hand a folder to any group
    StateDir(home).prepare(traverse_gid=gid)
    for folder in (home, home / "logs"):
        assert _mode(folder) == 0o710 and folder.stat().st_gid == gid
    assert _mode(home / "run") == 0o700


def test_state_files_are_written_private(state: StateDir):
    state.ports({})
    state.secrets()
    target = state.root / "x.json"
    target.write_text("{}")
    target.chmod(0o644)
    write_private(target, "{}")
    for path in (state.ports_file, state.secrets_file, state.meta_file, target):
        assert _mode(path) == 0o600, path


def test_services_run_with_umask_077_and_private_log_and_pid(state: StateDir):
    made = state.root / "made-by-service"
    proc = ManagedProcess("umask-probe", ["sh", "-c", f"touch {made}; mkdir {made}.d; exec sleep 60"], state)
    proc.start()
    try:
        for _ in range(200):
            if (Path(f"{made}.d")).exists():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        assert _mode(made) == 0o600
        assert _mode(Path(f"{made}.d")) == 0o700
        assert _mode(proc.log_file) == 0o600 and _mode(proc.pid_file) == 0o600
    finally:
        proc.stop()


def test_postgres_runtime_files_are_private(state: StateDir, monkeypatch):
    pg = Postgres(state, 5999, {"postgres_password": "p"})
    pg.data_dir.mkdir(parents=True)
    monkeypatch.setattr("radiolake.stack.postgres.server_user", lambda: None)
    pg._write_runtime_conf()
    assert _mode(pg.data_dir / "radiolake.conf") == 0o600


# --- item 3: Spark UIs only look --------------------------------------------------------------------------
def test_cluster_properties_disable_kill_and_decommission_and_enable_acls(state: StateDir):
    cluster = SparkCluster(state, {"spark_master": 7077, "spark_master_ui": 8080}, {"spark_auth_secret": "s"})
    path = cluster._properties()
    props = dict(line.split(" ", 1) for line in path.read_text().splitlines() if line.strip())
    assert props["spark.ui.killEnabled"] == "false"
    assert props["spark.master.ui.decommission.allow.mode"] == "DENY"
    assert props["spark.acls.enable"] == "true"
    assert _mode(path) == 0o600


def test_driver_ui_if_enabled_cannot_kill(monkeypatch):
    from radiolake.config import get_settings
    from radiolake.spark.session import spark_options

    monkeypatch.setenv("RADIOLAKE_SPARK_UI", "true")
    public, _ = spark_options("local[2]", get_settings({}), None)
    assert public["spark.ui.killEnabled"] == "false"
    assert public["spark.acls.enable"] == "true"
    assert public["spark.driver.bindAddress"] == "127.0.0.1"


# --- item 7: signing keys only where they sign -----------------------------------------------------------
def test_only_api_server_and_scheduler_hold_the_jwt_secret(state: StateDir):
    secrets = state.secrets()
    pg = Postgres(state, 5999, secrets)
    common = airflow_env(state, {"airflow": 1, "airflow_worker_logs": 2, "airflow_trigger_logs": 3}, secrets, pg)
    assert secrets["airflow_jwt_secret"] not in common.values()
    assert secrets["airflow_secret_key"] not in common.values()
    assert common["AIRFLOW__CORE__EXECUTOR"] == "radiolake.task_executor.ScopedLocalExecutor"
    holders = {c for c in COMPONENTS if "AIRFLOW__API_AUTH__JWT_SECRET" in signing_env(c, secrets)}
    assert holders == {"api-server", "scheduler"}
    assert {c for c in COMPONENTS if "AIRFLOW__API__SECRET_KEY" in signing_env(c, secrets)} == {"api-server"}
    assert signing_env("api-server", secrets)["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["airflow_jwt_secret"]


def test_task_workers_drop_every_form_of_the_signing_keys():
    env = {"AIRFLOW__API_AUTH__JWT_SECRET": "j", "AIRFLOW__API_AUTH__JWT_SECRET_CMD": "cat f",
           "AIRFLOW__API__SECRET_KEY": "k", "AIRFLOW__API__SECRET_KEY_SECRET": "v",
           "AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME": "60", "RADIOLAKE_HOME": "/x"}
    dropped = drop_signing_keys(env)
    assert dropped == ["AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API_AUTH__JWT_SECRET_CMD",
                       "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API__SECRET_KEY_SECRET"]
    assert env == {"AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME": "60", "RADIOLAKE_HOME": "/x"}


def test_scoped_executor_workers_start_without_the_jwt_secret(monkeypatch):
    """A real worker process of the executor (fork, like the scheduler's) reports its environment."""
    import multiprocessing

    from radiolake import task_executor

    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "only-the-scheduler")
    seen = multiprocessing.get_context("fork").SimpleQueue()

    def fake_worker(**kwargs) -> None:
        seen.put(sorted(n for n in os.environ if n.startswith(task_executor.SIGNING_KEY_OPTIONS)))

    monkeypatch.setattr(task_executor.local_executor, "_run_worker", fake_worker)
    executor = task_executor.ScopedLocalExecutor(parallelism=1)
    executor.activity_queue = executor.result_queue = None
    executor._unread_messages = None
    executor.workers = {}
    executor._spawn_worker()
    (proc,) = executor.workers.values()
    proc.join(60)
    assert seen.get() == []
    assert os.environ["AIRFLOW__API_AUTH__JWT_SECRET"] == "only-the-scheduler"  # the scheduler keeps it


# --- item 8: MinIO's root is not the pipeline -----------------------------------------------------------------
class RecordingAdmin:
    """Stands in for MinIO's admin API (no `minio` server here): records what the stack asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def policy_add(self, name, policy=None, policy_file=None):
        self.calls.append(("policy_add", name, policy))

    def user_add(self, access_key, secret_key):
        self.calls.append(("user_add", access_key, secret_key))

    def policy_set(self, name, user=None, group=None):
        self.calls.append(("policy_set", name, user))


def test_minio_root_is_the_admin_key_and_the_pipeline_a_bucket_scoped_user(state: StateDir):
    secrets = state.secrets()
    store = ObjectStore(state, state.ports({}), secrets)
    store.kind = "minio"
    env = store._process().env
    assert env["MINIO_ROOT_USER"] == secrets["s3_admin_access_key"]
    assert env["MINIO_ROOT_PASSWORD"] == secrets["s3_admin_secret_key"]
    assert secrets["s3_access_key"] not in env.values() and secrets["s3_secret_key"] not in env.values()
    assert store.admin_client()._provider.retrieve().access_key == secrets["s3_admin_access_key"]

    admin = RecordingAdmin()
    provision_minio_pipeline(admin, secrets, BUCKETS)
    added = [c for c in admin.calls if c[0] == "policy_add"]
    assert ("user_add", secrets["s3_access_key"], secrets["s3_secret_key"]) in admin.calls
    assert ("policy_set", MINIO_PIPELINE_POLICY, secrets["s3_access_key"]) in admin.calls
    (_, name, policy), = added
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {f"arn:aws:s3:::{b}{suffix}" for b in BUCKETS for suffix in ("", "/*")}
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}
    assert not any(a == "s3:*" or a.startswith("admin:") for a in actions)


def test_embedded_minio_policy_is_compose_policy():
    env = {"PATH": os.environ["PATH"], **{f"RADIOLAKE_BUCKET_{k.upper()}": f"b-{k}" for k in DEFAULT_BUCKETS}}
    out = subprocess.run(["sh", str(REPO / "docker" / "minio" / "init.sh"), "--print-policy"], env=env,
                         capture_output=True, text=True, check=True).stdout
    buckets = [f"b-{k}" for k in ("raw", "catalogs", "xmatch", "reports")]
    assert json.loads(out) == minio_pipeline_policy(buckets)


def test_a_lazily_started_cluster_chooses_again_the_unpinned_ports_another_process_took(tmp_path, monkeypatch):
    """`stack up` chooses the Spark master's ports long before the cluster binds them; an outgoing connection
    may take one meanwhile (an ephemeral port). The idle cluster then takes new free ports and records them."""
    import json
    import socket

    from radiolake.stack.spark import SparkCluster
    from radiolake.stack.state import StateDir

    monkeypatch.delenv("RADIOLAKE_SPARK_UI_PORT", raising=False)
    monkeypatch.delenv("RADIOLAKE_SPARK_MASTER_PORT", raising=False)
    state = StateDir(tmp_path)
    ports = state.ports({})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports["spark_master_ui"]))
        holder.listen()
        cluster = SparkCluster(state, ports, {"spark_auth_secret": "s"})
        before = dict(ports)
        cluster._repick_taken_ports(0)
    assert ports["spark_master_ui"] != before["spark_master_ui"] and ports["spark_master"] == before["spark_master"]
    assert json.loads(state.ports_file.read_text())["spark_master_ui"] == ports["spark_master_ui"]
    assert cluster.ui_url.endswith(f":{ports['spark_master_ui']}")
