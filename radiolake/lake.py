"""Object-store access: the official MinIO client for objects, pyarrow's S3 filesystem for Parquet.

Both talk plain S3, so the same code works against the embedded SeaweedFS gateway and the MinIO server
under docker compose; only `Settings` (endpoint and keys from the environment) differ.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow.fs as pafs
from minio import Minio
from minio.error import S3Error

from radiolake.config import Settings, get_settings


def minio_client(settings: Settings | None = None) -> Minio:
    settings = settings or get_settings()
    settings.require_s3()
    return Minio(
        settings.s3_hostport,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        secure=settings.s3_secure,
        region=settings.s3_region,
    )


def arrow_fs(settings: Settings | None = None) -> pafs.S3FileSystem:
    """A pyarrow filesystem on the object store; paths are `bucket/key`."""
    settings = settings or get_settings()
    settings.require_s3()
    return pafs.S3FileSystem(
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key,
        endpoint_override=settings.s3_hostport,
        scheme="https" if settings.s3_secure else "http",
        region=settings.s3_region,
        allow_bucket_creation=False,
        allow_bucket_deletion=False,
    )


def ensure_buckets(settings: Settings | None = None, client: Minio | None = None) -> list[str]:
    """Create the lake's buckets if missing (idempotent); returns their names."""
    settings = settings or get_settings()
    client = client or minio_client(settings)
    names = list(settings.buckets.values())
    for name in names:
        if not client.bucket_exists(name):
            try:
                client.make_bucket(name)
            except S3Error as exc:  # a concurrent creator won the race
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise
    return names


def put_bytes(bucket: str, key: str, data: bytes, *, content_type: str = "application/octet-stream",
              client: Minio | None = None) -> None:
    client = client or minio_client()
    client.put_object(bucket, key, io.BytesIO(data), len(data), content_type=content_type)


def get_bytes(bucket: str, key: str, *, client: Minio | None = None) -> bytes:
    client = client or minio_client()
    resp = client.get_object(bucket, key)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


def list_keys(bucket: str, prefix: str = "", *, client: Minio | None = None) -> Iterator[str]:
    client = client or minio_client()
    for obj in client.list_objects(bucket, prefix=prefix, recursive=True):
        yield obj.object_name
