"""The embedded stack, for real: SQL, S3, Airflow REST API, Spark on the object store, restart, shutdown."""

from __future__ import annotations

import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import psycopg
import pytest

from radiolake import lake
from radiolake.config import AIRFLOW_DB, AIRFLOW_ROLE
from radiolake.stack.errors import StackError
from radiolake.stack.postgres import Postgres
from radiolake.stack.state import StateDir

pytestmark = pytest.mark.integration


def test_sql_round_trip_in_both_databases(stack):
    with psycopg.connect(stack.settings.warehouse_dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.rt (k text primary key, v double precision)")
        conn.execute("INSERT INTO public.rt VALUES ('a', 1.5) ON CONFLICT (k) DO UPDATE SET v = 1.5")
        assert conn.execute("SELECT v FROM public.rt WHERE k = 'a'").fetchone() == (1.5,)
        assert conn.execute("SELECT current_user, current_database()").fetchone() == ("radiolake", "warehouse")
    with psycopg.connect(stack.stack.postgres.dsn(AIRFLOW_ROLE, AIRFLOW_DB)) as conn:
        # Airflow migrated its schema into its own database, owned by its own role.
        assert conn.execute("SELECT count(*) FROM dag").fetchone()[0] >= 0
        assert conn.execute("SELECT current_user").fetchone() == ("airflow",)


def test_roles_cannot_cross_databases(stack):
    airflow_into_warehouse = stack.stack.postgres.dsn(AIRFLOW_ROLE, "warehouse")
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(airflow_into_warehouse).close()


def test_wrong_password_is_refused(stack):
    bad = stack.settings.warehouse_dsn.replace(stack.stack.secrets["warehouse_password"], "wrong")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad).close()


def test_bucket_put_get_list(stack):
    client = lake.minio_client(stack.settings)
    assert sorted(b.name for b in client.list_buckets()) == sorted(stack.settings.buckets.values())
    key = f"it/{uuid.uuid4().hex}.bin"
    payload = bytes(range(256)) * 100
    lake.put_bytes("raw", key, payload, client=client)
    assert lake.get_bytes("raw", key, client=client) == payload
    assert key in set(lake.list_keys("raw", "it/", client=client))


def test_object_store_rejects_unknown_keys(stack):
    from minio import Minio
    from minio.error import S3Error

    stranger = Minio(stack.settings.s3_hostport, access_key="NOTAKEY", secret_key="NOTASECRET123", secure=False)
    with pytest.raises(S3Error):
        list(stranger.list_objects("raw"))


def test_spark_writes_and_reads_parquet_on_the_object_store(stack):
    from radiolake.spark.io import read_parquet_s3, write_parquet_s3
    from radiolake.spark.session import get_spark

    spark = get_spark("radiolake-it", master="local[2]")
    path = f"s3://xmatch/it/{uuid.uuid4().hex}"
    rows = [(i, f"src{i}", i * 0.25) for i in range(5000)]
    try:
        df = spark.createDataFrame(rows, "id long, name string, x double").repartition(4)
        write_parquet_s3(df, path)
        back = sorted(tuple(r) for r in read_parquet_s3(spark, path).collect())
    finally:
        spark.stop()
    assert back == rows
    prefix = path.split("/", 3)[3] + "/"
    keys = list(lake.list_keys("xmatch", prefix, client=lake.minio_client(stack.settings)))
    assert any(k.endswith("_SUCCESS") for k in keys)
    assert not any("_temporary/" in k and k.endswith(".parquet") for k in keys)


def test_rest_api_lists_dags_and_smoke_dag_runs_to_success(stack, smoke_run):
    # `smoke_run` (tests/integration/conftest.py): listed by the API, triggered through it, ended successfully
    assert stack.airflow.import_errors() == []
    states = stack.airflow.task_states("radiolake_smoke", smoke_run)
    assert states == {"object_store": "success", "warehouse": "success", "spark": "success"}


def test_trigger_of_unknown_dag_is_refused(stack):
    from radiolake.app.airflow_client import AirflowRunFailed

    with pytest.raises(AirflowRunFailed, match="no_such_dag.*404"):
        stack.airflow.trigger("no_such_dag")


def test_port_in_use_gives_clear_error_naming_service_and_log():
    # Directly under /tmp, as the session's stack is: Postgres runs as an unprivileged user that must reach
    # the folder, and pytest's own temp root (deeper still under xdist) is private to this user.
    home = Path(tempfile.mkdtemp(prefix="radiolake-busy-", dir="/tmp"))
    home.chmod(0o755)
    try:
        _start_postgres_on_a_busy_port(home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _start_postgres_on_a_busy_port(home: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        state = StateDir(home / "state")
        state.prepare()
        pg = Postgres(state, port, state.secrets())
        with pytest.raises(StackError) as info:
            pg.start()
    message = str(info.value)
    assert message.startswith("postgres:") and f"port {port}" in message and "in use" in message
    assert "postgres.log" in message


def test_down_leaves_no_process_and_up_resumes_with_data(own_stack):
    """On a stack of its own: stopping it takes no other test's services down."""
    stack = own_stack
    key = f"persist/{uuid.uuid4().hex}.txt"
    lake.put_bytes("catalogs", key, b"survives restarts", client=lake.minio_client(stack.settings))
    with psycopg.connect(stack.settings.warehouse_dsn) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS public.persist (k text primary key)")
        conn.execute("INSERT INTO public.persist VALUES (%s) ON CONFLICT DO NOTHING", (key,))

    stack.stack.down()
    assert stack.stack.running_processes() == []
    assert not any(s.healthy for s in stack.stack.status())

    stack.stack.up()
    assert lake.get_bytes("catalogs", key, client=lake.minio_client(stack.settings)) == b"survives restarts"
    with psycopg.connect(stack.settings.warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM public.persist WHERE k = %s", (key,)).fetchone() == (1,)
    assert all(s.healthy for s in stack.stack.status())
