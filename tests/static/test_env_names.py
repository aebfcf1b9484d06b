"""The compose stack speaks the embedded stack's language: the RADIOLAKE_* names radiolake/ reads.

A typo in a variable name would silently fall back to a default (or to the embedded state directory), so
every RADIOLAKE_* name in compose/.env.example must be one the code reads, and the containers must get all
the ones the pipeline needs, with values that radiolake.config turns into the right Settings.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from static_support import (
    COMPOSE_FILE,
    DOCKERFILES,
    ENV_EXAMPLE,
    RADIOLAKE_NAME,
    compose_resolved,
    radiolake_names_read_by_code,
    read_env_file,
)

from radiolake.config import (
    AIRFLOW_DB,
    ANALYST_ROLE,
    DEFAULT_BUCKETS,
    WAREHOUSE_DB,
    WAREHOUSE_ROLE,
    get_settings,
)

#: What a pipeline container (DAG tasks, Spark driver, dbt) must be given under compose.
PIPELINE_NEEDS = {
    "RADIOLAKE_S3_ENDPOINT",
    "RADIOLAKE_S3_ACCESS_KEY",
    "RADIOLAKE_S3_SECRET_KEY",
    "RADIOLAKE_S3_REGION",
    "RADIOLAKE_WAREHOUSE_DSN",
    "RADIOLAKE_SPARK_MASTER",
    *(f"RADIOLAKE_BUCKET_{kind.upper()}" for kind in DEFAULT_BUCKETS),
}


def is_read_by_code(name: str) -> bool:
    exact, prefixes = radiolake_names_read_by_code()
    if name in exact:
        return True
    # Run-time completed names: RADIOLAKE_BUCKET_<KIND> for the kinds config.py knows.
    return any(name.startswith(p) and name[len(p) :].lower() in DEFAULT_BUCKETS for p in prefixes)


def test_code_scan_finds_the_config_variables():
    exact, prefixes = radiolake_names_read_by_code()
    assert {"RADIOLAKE_S3_ENDPOINT", "RADIOLAKE_WAREHOUSE_DSN", "RADIOLAKE_SPARK_MASTER"} <= exact
    assert "RADIOLAKE_BUCKET_" in prefixes
    assert not is_read_by_code("RADIOLAKE_S3_ENDPIONT") and not is_read_by_code("RADIOLAKE_BUCKET_RAWW")


def test_every_radiolake_name_in_compose_and_env_example_is_read_by_the_code():
    for path in (COMPOSE_FILE, ENV_EXAMPLE, DOCKERFILES[0]):
        names = set(RADIOLAKE_NAME.findall(path.read_text()))
        assert names, path
        assert sorted(n for n in names if not is_read_by_code(n)) == [], path.name


def test_pipeline_containers_get_every_variable_they_need():
    services = compose_resolved()["services"]
    for name in ("airflow-scheduler", "airflow-apiserver", "airflow-dag-processor", "airflow-triggerer"):
        env = services[name]["environment"]
        assert sorted(PIPELINE_NEEDS - set(env)) == [], name
        assert all(env[k] for k in PIPELINE_NEEDS), name


def test_container_environment_yields_the_compose_settings():
    env = dict(compose_resolved()["services"]["airflow-scheduler"]["environment"])
    env["RADIOLAKE_HOME"] = "/nonexistent/radiolake-state"  # no embedded state may fill gaps
    settings = get_settings(env)
    example = read_env_file()
    assert settings.s3_endpoint == "http://minio:9000" and not settings.s3_secure
    assert (settings.s3_access_key, settings.s3_secret_key) == (
        example["RADIOLAKE_S3_ACCESS_KEY"],
        example["RADIOLAKE_S3_SECRET_KEY"],
    )
    assert settings.buckets == DEFAULT_BUCKETS
    assert settings.spark_master == "spark://spark-master:7077"
    dsn = urlsplit(settings.warehouse_dsn)
    assert (dsn.hostname, dsn.port, dsn.username, dsn.path) == (
        "postgres",
        5432,
        WAREHOUSE_ROLE,
        f"/{WAREHOUSE_DB}",
    )
    assert dsn.password == example["WAREHOUSE_DB_PASSWORD"]
    settings.require_s3()
    settings.require_warehouse()


def test_minio_init_creates_the_user_the_pipeline_uses():
    services = compose_resolved()["services"]
    init_env = services["minio-init"]["environment"]
    pipeline_env = services["airflow-scheduler"]["environment"]
    for key in (
        "RADIOLAKE_S3_ACCESS_KEY",
        "RADIOLAKE_S3_SECRET_KEY",
        *(f"RADIOLAKE_BUCKET_{kind.upper()}" for kind in DEFAULT_BUCKETS),
    ):
        assert init_env[key] == pipeline_env[key], key
    assert init_env["RADIOLAKE_S3_ACCESS_KEY"] != init_env["MINIO_ROOT_USER"], "pipeline must not run as root"


def test_postgres_gets_the_role_passwords_the_dsns_use():
    services = compose_resolved()["services"]
    pg_env = services["postgres"]["environment"]
    airflow_env = services["airflow-scheduler"]["environment"]
    assert f":{pg_env['WAREHOUSE_DB_PASSWORD']}@" in airflow_env["RADIOLAKE_WAREHOUSE_DSN"]
    conn = urlsplit(airflow_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (conn.username, conn.password, conn.path) == (
        "airflow",
        pg_env["AIRFLOW_DB_PASSWORD"],
        f"/{AIRFLOW_DB}",
    )
    assert pg_env["ANALYST_DB_PASSWORD"] and ANALYST_ROLE == "analyst"


def test_spark_workers_get_what_executors_need_and_share_the_cluster_secret():
    """Executors reach the lake with the pipeline's settings; master, workers and drivers agree on the secret."""
    services = compose_resolved()["services"]
    airflow = services["airflow-scheduler"]["environment"]
    worker = services["spark-worker"]["environment"]
    master = services["spark-master"]["environment"]
    executor_needs = {"RADIOLAKE_S3_ENDPOINT", "RADIOLAKE_S3_ACCESS_KEY", "RADIOLAKE_S3_SECRET_KEY",
                      "RADIOLAKE_S3_REGION", *(f"RADIOLAKE_BUCKET_{k.upper()}" for k in DEFAULT_BUCKETS)}
    assert {k: worker.get(k) for k in executor_needs} == {k: airflow[k] for k in executor_needs}
    assert worker["PYSPARK_PYTHON"] == "/opt/radiolake/venv/bin/python"
    assert "RADIOLAKE_S3_SECRET_KEY" not in master  # the master runs no executor: no lake credentials
    secret = airflow["RADIOLAKE_SPARK_AUTH_SECRET"]
    assert secret and worker["_SPARK_AUTH_SECRET"] == master["_SPARK_AUTH_SECRET"] == secret
    for env in (worker, master):
        assert "-Dspark.authenticate=true" in env["SPARK_DAEMON_JAVA_OPTS"]
    # Airflow's tasks submit to the compose master, and executors can call the driver back by name.
    master_cmd = services["spark-master"]["command"]
    port = master_cmd[master_cmd.index("--port") + 1]
    assert airflow["RADIOLAKE_SPARK_MASTER"] == f"spark://spark-master:{port}"
    assert airflow["RADIOLAKE_SPARK_DRIVER_HOST"] == services["airflow-scheduler"]["hostname"]
    settings = get_settings({**airflow, "RADIOLAKE_HOME": "/nonexistent/radiolake-state"})
    assert settings.spark_secret_for(settings.spark_master) == secret
