"""One place that builds the SparkSession, so jobs, tasks and tests configure Spark the same way."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession

from radiolake.config import get_settings


def get_spark(app_name: str = "radiolake", master: str | None = None,
              shuffle_partitions: int | None = None) -> SparkSession:
    """A SparkSession on RADIOLAKE_SPARK_MASTER (default local[*]) with Arrow on and the S3 source registered.

    Executors use this interpreter, so they import the same radiolake and pyarrow as the driver.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    master = master or get_settings().spark_master
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or (8 if master.startswith("local") else 64)))
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", os.environ.get("RADIOLAKE_SPARK_UI", "false"))
        .config("spark.sql.session.timeZone", "UTC")
    )
    if driver_memory := os.environ.get("RADIOLAKE_SPARK_DRIVER_MEMORY"):
        builder = builder.config("spark.driver.memory", driver_memory)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("RADIOLAKE_SPARK_LOG_LEVEL", "WARN"))
    from radiolake.spark_io import register

    register(spark)
    return spark
