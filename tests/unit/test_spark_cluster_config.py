"""The Spark cluster's configuration logic: which master a job uses, what executors get, where secrets go."""

import json
import os

import pytest

from radiolake.config import SPARK_CLUSTER_FILE, get_settings
from radiolake.spark.session import spark_options
from radiolake.stack.errors import StackError
from radiolake.stack.spark import worker_count
from radiolake.stack.state import StateDir

MASTER = "spark://127.0.0.1:7077"


def stack_home(tmp_path, master_pid: int) -> dict[str, str]:
    """A state directory whose stack runs a cluster (cluster.json + a master PID file)."""
    (tmp_path / "ports.json").write_text(json.dumps({"s3": 1111}))
    (tmp_path / "secrets.json").write_text(json.dumps(
        {"s3_access_key": "AK", "s3_secret_key": "s3-secret", "spark_auth_secret": "spark-secret"}))
    (tmp_path / SPARK_CLUSTER_FILE).parent.mkdir(parents=True)
    (tmp_path / SPARK_CLUSTER_FILE).write_text(json.dumps({"master": MASTER, "workers": 3, "cores": 3}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "spark-master.pid").write_text(f"{master_pid} 0.00\n")
    return {"RADIOLAKE_HOME": str(tmp_path)}


def test_a_running_stack_cluster_is_the_default_master(tmp_path):
    s = get_settings(stack_home(tmp_path, os.getpid()))
    assert s.spark_master == MASTER
    assert s.spark_secret_for(MASTER) == "spark-secret"
    assert s.spark_secret_for("spark://elsewhere:7077") == ""  # the stack's secret is for its own master only
    assert s.spark_secret_for("local[*]") == ""
    assert "spark-secret" not in repr(s)


def test_a_dead_cluster_falls_back_to_local_mode(tmp_path):
    env = stack_home(tmp_path, 2**22 + 12345)  # above pid_max's default: no such process
    s = get_settings(env)
    assert s.spark_master == "local[*]" and s.stack_spark_secret == ""


def test_env_master_and_secret_win(tmp_path):
    env = {**stack_home(tmp_path, os.getpid()), "RADIOLAKE_SPARK_MASTER": "spark://spark-master:7077",
           "RADIOLAKE_SPARK_AUTH_SECRET": "compose-secret"}
    s = get_settings(env)
    assert s.spark_master == "spark://spark-master:7077"
    assert s.spark_secret_for(s.spark_master) == "compose-secret"


def test_cluster_options_give_executors_the_lake_and_keep_secrets_off_argv(tmp_path):
    s = get_settings(stack_home(tmp_path, os.getpid()))
    public, secret = spark_options(MASTER, s, None)
    assert public["spark.executorEnv.RADIOLAKE_S3_ENDPOINT"] == "http://127.0.0.1:1111"
    assert public["spark.executorEnv.RADIOLAKE_S3_ACCESS_KEY"] == "AK"
    assert public["spark.executorEnv.RADIOLAKE_BUCKET_CATALOGS"] == "catalogs"
    assert public["spark.authenticate"] == "true"
    assert secret == {"spark.executorEnv.RADIOLAKE_S3_SECRET_KEY": "s3-secret",
                      "spark.authenticate.secret": "spark-secret"}
    assert not any(v in ("s3-secret", "spark-secret") for v in public.values())  # public goes on argv
    assert public["spark.sql.shuffle.partitions"] == "12"  # a few tasks per core of the stack's cluster
    other, _ = spark_options("spark://elsewhere:7077", s, None)
    assert other["spark.sql.shuffle.partitions"] == "64" and "spark.authenticate" not in other


def test_local_mode_needs_no_executor_settings(tmp_path):
    s = get_settings(stack_home(tmp_path, os.getpid()))
    public, secret = spark_options("local[2]", s, None)
    assert secret == {} and not any(k.startswith("spark.executorEnv") for k in public)
    assert "spark.authenticate" not in public


def test_worker_count_explicit_env_or_what_runs(monkeypatch):
    monkeypatch.delenv("RADIOLAKE_SPARK_WORKERS", raising=False)
    assert worker_count(None, 0) == 0  # off by default
    assert worker_count(None, 3) == 3  # a running cluster stays as it is
    assert worker_count(2, 3) == 2
    monkeypatch.setenv("RADIOLAKE_SPARK_WORKERS", "4")
    assert worker_count(None, 0) == 4 and worker_count(0, 4) == 0
    monkeypatch.setenv("RADIOLAKE_SPARK_WORKERS", "two")
    with pytest.raises(StackError, match="RADIOLAKE_SPARK_WORKERS"):
        worker_count(None, 0)
    with pytest.raises(StackError, match="0 .no cluster. to 16"):
        worker_count(17, 0)


def test_worker_ports_are_chosen_once_and_kept(tmp_path):
    state = StateDir(tmp_path / "home")
    state.prepare()
    base = state.ports({})
    assert {"spark_master", "spark_master_ui"} <= set(base)
    more = state.extra_ports(["spark_worker_0", "spark_worker_0_ui"])
    assert len(set(more.values())) == len(more)
    assert state.extra_ports(["spark_worker_0"]) == more == json.loads(state.ports_file.read_text())
