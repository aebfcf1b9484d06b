"""Smoke checks of every part of the stack, run as Airflow tasks by the `radiolake_smoke` DAG.

Each returns what it measured, so the task log (and XCom) says what was checked, not just "ok".
"""

from __future__ import annotations

import hashlib
import logging
import time

import psycopg

from radiolake import lake
from radiolake.config import get_settings

log = logging.getLogger(__name__)


def object_store_round_trip(run_key: str) -> dict:
    """Put an object in the raw bucket, read it back, compare checksums."""
    settings = get_settings()
    client = lake.minio_client(settings)
    payload = f"radiolake smoke {run_key} {time.time()}".encode()
    key = f"smoke/{run_key}.txt"
    lake.put_bytes(settings.bucket("raw"), key, payload, content_type="text/plain", client=client)
    back = lake.get_bytes(settings.bucket("raw"), key, client=client)
    if back != payload:
        raise RuntimeError(f"object store returned different bytes for {key}")
    digest = hashlib.sha256(back).hexdigest()
    log.info("object store round trip ok: s3://%s/%s sha256=%s", settings.bucket("raw"), key, digest)
    return {"bucket": settings.bucket("raw"), "key": key, "sha256": digest}


def warehouse_round_trip(run_key: str) -> dict:
    """Write a row in the warehouse and read it back (idempotent per run key)."""
    settings = get_settings()
    settings.require_warehouse()
    with psycopg.connect(settings.warehouse_dsn) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS ops")
        conn.execute("CREATE TABLE IF NOT EXISTS ops.smoke_runs (run_key text PRIMARY KEY, at timestamptz)")
        conn.execute("INSERT INTO ops.smoke_runs VALUES (%s, now()) ON CONFLICT (run_key) DO UPDATE "
                      "SET at = excluded.at", (run_key,))
        n = conn.execute("SELECT count(*) FROM ops.smoke_runs WHERE run_key = %s", (run_key,)).fetchone()[0]
    if n != 1:
        raise RuntimeError(f"warehouse round trip: expected 1 row for {run_key}, found {n}")
    log.info("warehouse round trip ok: ops.smoke_runs has run %s", run_key)
    return {"run_key": run_key, "rows": n}


def spark_round_trip(run_key: str, rows: int = 10_000) -> dict:
    """Spark writes Parquet to the xmatch bucket and reads back the same rows."""
    from radiolake.spark.io import read_parquet_s3, write_parquet_s3
    from radiolake.spark.session import get_spark

    settings = get_settings()
    spark = get_spark("radiolake-smoke")
    path = f"s3://{settings.bucket('xmatch')}/smoke/{run_key}"
    try:
        df = spark.range(rows).selectExpr("id", "id % 7 AS k")
        write_parquet_s3(df, path)
        back = read_parquet_s3(spark, path)
        n, total = back.count(), back.groupBy().sum("id").collect()[0][0]
    finally:
        spark.stop()
    expected = rows * (rows - 1) // 2
    if n != rows or total != expected:
        raise RuntimeError(f"Spark round trip: wrote {rows} rows (sum {expected}), read {n} (sum {total})")
    log.info("Spark round trip ok: %d rows through %s", n, path)
    return {"path": path, "rows": n}


def task_env_check() -> dict:
    """Fail when this task's environment holds a key that signs Airflow tokens (issue 24, item 7): a task never
    signs (its execution-API token comes signed), so holding one would only let it mint tokens, an admin's too."""
    import os

    from radiolake.task_executor import SIGNING_KEY_OPTIONS

    found = sorted(name for name in os.environ if name.upper().startswith(SIGNING_KEY_OPTIONS))
    if found:
        raise RuntimeError(f"this task's environment holds Airflow signing keys: {found}")
    log.info("task environment holds no Airflow signing key")
    return {"signing_keys_in_task_env": found}
