"""One place that builds the SparkSession, so jobs, tasks and tests configure Spark the same way.

On a cluster (`spark://...`), executors run in other processes (other machines under compose) and need the
same RADIOLAKE_* settings as the driver to reach the lake: the driver hands them over as
`spark.executorEnv.*`. Secrets (S3 secret key, the cluster's spark.authenticate secret) never go on the
spark-submit command line that launches the driver JVM — `ps` shows it to every user — but to the running
JVM through py4j, and Spark's redaction hides them from its UI and logs.
"""

from __future__ import annotations

import os
import sys

from pyspark import SparkConf, SparkContext
from pyspark.sql import SparkSession

from radiolake.config import Settings, get_settings
from radiolake.spark.cds import DEFAULT_DRIVER_JAVA_OPTIONS, driver_java_options

#: What the executors' Python code reads to reach the lake (radiolake.config.get_settings).
EXECUTOR_SETTINGS = ("RADIOLAKE_S3_ENDPOINT", "RADIOLAKE_S3_ACCESS_KEY", "RADIOLAKE_S3_SECRET_KEY",
                     "RADIOLAKE_S3_REGION")
#: Spark's default redaction pattern, plus `access_key` (ours is spelled with an underscore).
REDACTION_REGEX = r"(?i)secret|password|token|access[._]?key"
#: A bare context's JVM (`get_spark_context`) only schedules and relays task results, so it also gets a small
#: young generation that it reuses: the default collector grew the heap to ~500 MB of fresh pages, and on a VM
#: whose host reclaims free memory, first-touching a page costs ~3 s per GB (measured: ~1 s of a 9 s run).
SCHEDULER_JAVA_OPTIONS = f"{DEFAULT_DRIVER_JAVA_OPTIONS} -XX:+UseSerialGC -Xmn32m"


def executor_env(settings: Settings) -> dict[str, str]:
    """RADIOLAKE_* values as this driver resolved them (env or the embedded state), for every executor."""
    values = {
        "RADIOLAKE_S3_ENDPOINT": settings.s3_endpoint,
        "RADIOLAKE_S3_ACCESS_KEY": settings.s3_access_key,
        "RADIOLAKE_S3_SECRET_KEY": settings.s3_secret_key,
        "RADIOLAKE_S3_REGION": settings.s3_region,
        **{f"RADIOLAKE_BUCKET_{kind.upper()}": name for kind, name in settings.buckets.items()},
    }
    return {k: v for k, v in values.items() if v}


def default_shuffle_partitions(master: str, settings: Settings) -> int:
    """RADIOLAKE_SPARK_SHUFFLE_PARTITIONS, else 8 locally, 4 per core on the stack's cluster, 64 elsewhere.

    A few tasks per core keep every core busy; many more only add per-task overhead, which on a small
    cluster costs more than the work (64 tasks a stage made the stack's 2-worker cluster several times slower).
    """
    if raw := os.environ.get("RADIOLAKE_SPARK_SHUFFLE_PARTITIONS", "").strip():
        return int(raw)
    if master.startswith("local"):
        return 8
    if master == settings.stack_spark_master and settings.stack_spark_cores:
        return max(4, 4 * settings.stack_spark_cores)
    return 64


def spark_options(master: str, settings: Settings, shuffle_partitions: int | None,
                  java_options: str = DEFAULT_DRIVER_JAVA_OPTIONS) -> tuple[dict, dict]:
    """(public options, secret options) for a session on `master`; the split decides what may go on argv.
    `java_options`: the driver JVM's options unless RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS says otherwise."""
    local = master.startswith("local")
    public = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.shuffle.partitions": str(shuffle_partitions or default_shuffle_partitions(master, settings)),
        "spark.ui.showConsoleProgress": "false",
        # The driver listens on loopback unless told otherwise: under compose executors in other containers
        # reach it by the container's name (RADIOLAKE_SPARK_DRIVER_HOST) on all its interfaces.
        "spark.driver.bindAddress": os.environ.get("RADIOLAKE_SPARK_DRIVER_BIND_ADDRESS", "127.0.0.1"),
        "spark.driver.host": os.environ.get("RADIOLAKE_SPARK_DRIVER_HOST", "127.0.0.1"),
        "spark.ui.enabled": os.environ.get("RADIOLAKE_SPARK_UI", "false"),
        # When the driver's UI is on (RADIOLAKE_SPARK_UI), it only looks: no login guards it (on loopback,
        # every local account reaches it), so it may not kill jobs or stages.
        "spark.ui.killEnabled": "false",
        "spark.acls.enable": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.redaction.regex": REDACTION_REGEX,
        # pyspark's daemon, importing the installed (compiled) pyspark: see radiolake/spark/daemon.py.
        "spark.python.daemon.module": "radiolake.spark.daemon",
    }
    # Plus Spark's classes from the class-data-sharing archive `make setup` writes (radiolake/spark/cds.py).
    public["spark.driver.extraJavaOptions"] = driver_java_options(
        os.environ.get("RADIOLAKE_SPARK_DRIVER_JAVA_OPTIONS", java_options))
    if driver_memory := os.environ.get("RADIOLAKE_SPARK_DRIVER_MEMORY"):
        public["spark.driver.memory"] = driver_memory
    secret: dict[str, str] = {}
    if not local:
        if executor_memory := os.environ.get("RADIOLAKE_SPARK_EXECUTOR_MEMORY"):
            public["spark.executor.memory"] = executor_memory
        for name, value in executor_env(settings).items():
            (secret if name == "RADIOLAKE_S3_SECRET_KEY" else public)[f"spark.executorEnv.{name}"] = value
        if auth := settings.spark_secret_for(master):
            public["spark.authenticate"] = "true"
            secret["spark.authenticate.secret"] = auth
    return public, secret


def _spark_submit_master() -> str | None:
    """Under spark-submit the JVM is already up and its --master decides; None otherwise."""
    if "PYSPARK_GATEWAY_PORT" not in os.environ:
        return None
    SparkContext._ensure_initialized()
    return SparkConf().get("spark.master", None)


def _stop_session_on_other_master(master: str) -> None:
    """getOrCreate would silently hand back a session on another master: stop that one first.

    Local sessions count as one master whatever their thread count (local[2] vs local[*]): stopping one
    under a caller that holds it (a test fixture, an Airflow task's helper) would only break that caller.
    """
    active = SparkSession.getActiveSession()
    if active is None:
        return
    current = active.sparkContext.master
    if current != master and not (current.startswith("local") and master.startswith("local")):
        active.stop()


def _prepare(master: str | None, shuffle_partitions: int | None,
             java_options: str = DEFAULT_DRIVER_JAVA_OPTIONS) -> tuple[str, dict, dict]:
    """Master and (public, secret) options; workers use this interpreter, driver sockets stay on loopback,
    a session on another master is stopped."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    settings = get_settings()
    master = master or _spark_submit_master() or settings.spark_master
    public, secret = spark_options(master, settings, shuffle_partitions, java_options)
    _stop_session_on_other_master(master)
    if "RADIOLAKE_SPARK_DRIVER_BIND_ADDRESS" not in os.environ:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # every driver socket on loopback, not just RPC
    return master, public, secret


def _launch_jvm(master: str, app_name: str, public: dict) -> list[tuple[str, str]]:
    """Start the driver JVM with the public options only (its command line is visible to `ps`); options set
    afterwards go to the running JVM through py4j. Returns the base options."""
    base = [*public.items(), ("spark.master", master), ("spark.app.name", app_name)]
    SparkContext._ensure_initialized(conf=SparkConf(loadDefaults=False).setAll(base))
    return base


def get_spark_context(app_name: str = "radiolake", master: str | None = None) -> SparkContext:
    """A bare SparkContext, configured as `get_spark` configures a session, for jobs that only schedule
    Python tasks (the cross-match): it starts in less than half the time, with no SQL session, catalogue
    or data-source lookup worker. An active context (a session's, under spark-submit or a test) is reused."""
    master, public, secret = _prepare(master, None, SCHEDULER_JAVA_OPTIONS)
    if SparkContext._active_spark_context is not None:
        return SparkContext._active_spark_context
    base = _launch_jvm(master, app_name, public)
    sc = SparkContext.getOrCreate(SparkConf().setAll([*base, *secret.items()]))  # a JVM-side conf
    sc.setLogLevel(os.environ.get("RADIOLAKE_SPARK_LOG_LEVEL", "WARN"))
    return sc


def get_spark(app_name: str = "radiolake", master: str | None = None,
              shuffle_partitions: int | None = None) -> SparkSession:
    """A SparkSession on `master` (default: spark-submit's --master, else RADIOLAKE_SPARK_MASTER, else the
    stack's cluster, else local[*]) with Arrow on and the S3 source registered.

    Executors use this interpreter (PYSPARK_PYTHON), so they import the same radiolake and pyarrow as the driver.
    """
    master, public, secret = _prepare(master, shuffle_partitions)
    if secret:
        _launch_jvm(master, app_name, public)
    builder = SparkSession.builder.appName(app_name).master(master).config(map={**public, **secret})
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("RADIOLAKE_SPARK_LOG_LEVEL", "WARN"))
    from radiolake.spark.io import register

    register(spark)
    return spark
