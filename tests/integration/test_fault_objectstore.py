"""Fault: the S3 server dies (SIGKILL) while an ingest writes a catalogue version into the lake. After a
restart, a retry of the same ingest succeeds: one committed version, every object in it whole, nothing
left of the killed attempt. On PostgreSQL and an S3 server of its own (`own_warehouse`: no Airflow, which the
ingest does not use)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs, ensure_buckets, list_keys, minio_client
from tests.integration.faults import kill_group

pytestmark = pytest.mark.integration

NAME = "it_fault_stars"
INPUT = {"rows": 6000, "seed": 7, "region": "cone:200,-30,10"}


def test_s3_server_killed_mid_write_then_retry_commits_one_whole_version(own_warehouse):
    stack = own_warehouse
    settings = stack.settings
    ensure_buckets(settings)
    objectstore = stack.stack.objectstore
    killed: list[int] = []

    def kill_after_first_partition(stage: str, done: int, total: int | None) -> None:
        if stage == "write" and done > 0 and not killed:
            pid = objectstore.pid()
            assert pid is not None
            kill_group(pid)
            killed.append(pid)

    try:
        with pytest.raises(Exception) as failed:  # noqa: PT011 - whatever the S3 client raises
            ingest_survey("synthetic_stars", name=NAME, settings=settings, max_rows_per_partition=500,
                          progress=kill_after_first_partition, **INPUT)
        assert killed, f"the S3 server was not killed mid-write: {failed.value!r}"
    finally:
        objectstore.start()  # same data directory, same keys

    retry = ingest_survey("synthetic_stars", name=NAME, settings=settings, max_rows_per_partition=500, **INPUT)
    assert not retry.reused
    fs = arrow_fs(settings)
    base = f"{settings.bucket('catalogs')}/{NAME}"
    assert cat.list_versions(fs, base) == {retry.version: True}, "one version, committed; no leftover attempt"
    assert cat.current_version(fs, base) == retry.version
    prefix = f"{NAME}/versions/{retry.version}/dataset/"
    stored = sorted(k for k in list_keys(settings.bucket("catalogs"), prefix, client=minio_client(settings))
                    if k.endswith(".parquet"))
    expected = sorted(f"{NAME}/versions/{retry.version}/{p['path']}" for p in retry.metadata["partitions"])
    assert stored == expected, "exactly the committed partitions, nothing half-written beside them"
    rows = sum(pq.read_metadata(f"{settings.bucket('catalogs')}/{k}", filesystem=fs).num_rows for k in stored)
    assert rows == retry.n_rows == cat.read_catalog(fs, base, columns=["source_id"]).num_rows
    again = ingest_survey("synthetic_stars", name=NAME, settings=settings, max_rows_per_partition=500, **INPUT)
    assert again.reused and again.version == retry.version  # a second retry duplicates nothing
