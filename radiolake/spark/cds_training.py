"""The training run of the Spark driver's class-data-sharing archive (radiolake.spark.cds.build runs it as
`python -m radiolake.spark.cds_training` in a child JVM that dumps the archive when it exits).

Apart from cds.py because it starts Spark through radiolake.spark.session, which itself reads the archive's
options from cds.py: the imports point one way (cds_training -> session -> cds).
"""

from __future__ import annotations

from radiolake.spark.session import get_spark, get_spark_context


def train() -> None:
    """Load the classes a radiolake Spark start loads: a bare context running a Python job with a broadcast
    (the cross-match), then a SQL session with an Arrow round trip (ingest, spark_jobs). The JVM dumps the
    archive when it exits, so wait for it to exit before returning."""
    sc = get_spark_context("radiolake-cds-training", "local[2]")
    values = sc.broadcast(list(range(10)))
    assert sc.parallelize(range(4), 4).map(lambda x: x + len(values.value)).sum() == 46
    spark = get_spark("radiolake-cds-training", "local[2]")
    assert spark.createDataFrame([(1, "a")], "n int, s string").toPandas().shape == (1, 2)
    gateway = sc._gateway
    proc = getattr(gateway, "proc", None)
    spark.stop()
    gateway.shutdown()
    if proc is not None:
        proc.stdin.close()  # the driver JVM exits when its stdin closes, writing the archive
        proc.wait(timeout=300)


if __name__ == "__main__":
    train()
