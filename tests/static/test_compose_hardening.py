"""Issue 24, items 3 and 7 under docker compose: the Spark master UI stays on loopback and only looks; the
Airflow JWT signing secret reaches only the components that sign, and tasks run without it."""

from __future__ import annotations

from static_support import compose_raw, compose_resolved, read_env_file

#: The components that sign tokens: the api-server (every token) and the scheduler (task execution tokens).
JWT_HOLDERS = {"airflow-apiserver", "airflow-scheduler"}


def test_spark_master_ui_is_published_on_loopback_only_whatever_bind_address_says():
    raw_ports = compose_raw()["services"]["spark-master"]["ports"]
    assert all(str(p).startswith("127.0.0.1:") for p in raw_ports), raw_ports
    published = compose_resolved()["services"]["spark-master"]["ports"]
    assert published and all(p["host_ip"] == "127.0.0.1" for p in published), published


def test_spark_daemons_cannot_kill_or_decommission_from_their_ui():
    services = compose_resolved()["services"]
    for name in ("spark-master", "spark-worker"):
        opts = services[name]["environment"]["SPARK_DAEMON_JAVA_OPTS"].split()
        assert "-Dspark.ui.killEnabled=false" in opts, name
        assert "-Dspark.master.ui.decommission.allow.mode=DENY" in opts, name
        assert "-Dspark.acls.enable=true" in opts, name
        assert "-Dspark.authenticate=true" in opts, name


def test_only_api_server_and_scheduler_get_the_jwt_secret_and_tasks_drop_it():
    services = compose_resolved()["services"]
    secret = read_env_file()["AIRFLOW_JWT_SECRET"]
    holders = {name for name, s in services.items()
               if any(v == secret or k.startswith("AIRFLOW__API_AUTH__JWT_SECRET")
                      for k, v in (s.get("environment") or {}).items())}
    # check-secrets (one shot, runs no task) reads every .env secret to refuse placeholders.
    assert holders - {"check-secrets"} == JWT_HOLDERS
    # The scheduler runs the tasks (LocalExecutor): its workers drop the secret before taking any task.
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == (
        "radiolake.task_executor.ScopedLocalExecutor")
