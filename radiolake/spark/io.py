"""Spark ↔ object store, without s3a: a Spark 4 Python data source over pyarrow's S3 filesystem.

Why not s3a: it needs hadoop-aws and the AWS SDK bundle matching Spark's Hadoop, which are Maven artifacts;
only PyPI, Debian and npm are reachable here. pyarrow ships a native S3 client, and Spark 4's Python data
source API moves Arrow record batches in and out of executors without row-by-row conversion, so this path is
vectorised end to end. Under docker compose (where the images do carry hadoop-aws) the same code still works:
it needs nothing but the RADIOLAKE_S3_* settings on every executor.

Reads: one Spark partition per Parquet object (optionally only the objects listed, so a job reads just the
HEALPix partitions its footprint touches). Writes: each task writes `_temporary/<job>/part-*.parquet`; the
driver's commit moves them into place and writes `_SUCCESS` last; an aborted job deletes its temporary files.
A reader given a folder with no `_SUCCESS`-style marker still reads it: markers are for our own writes only.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import (
    DataSource,
    DataSourceArrowWriter,
    DataSourceReader,
    InputPartition,
    WriterCommitMessage,
)
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark.sql.types import StructType

FORMAT = "radiolake_s3parquet"
TEMP_DIR = "_temporary"
SUCCESS = "_SUCCESS"


def strip_scheme(path: str) -> str:
    """`s3://bucket/key` or `bucket/key` → `bucket/key` (pyarrow's form)."""
    return path.split("://", 1)[1] if "://" in path else path.lstrip("/")


def _fs() -> pafs.S3FileSystem:
    from radiolake.lake import arrow_fs

    return arrow_fs()


def list_parquet(fs: pafs.FileSystem, base: str) -> list[str]:
    """Parquet objects under `base`, sorted, skipping temporary and hidden (`_`/`.`-prefixed) entries."""
    infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    keep = []
    for info in infos:
        rel = info.path[len(base):].lstrip("/")
        if info.type != pafs.FileType.File or not info.path.endswith(".parquet"):
            continue
        if any(part.startswith(("_", ".")) for part in rel.split("/")):
            continue
        keep.append(info.path)
    return sorted(keep)


@dataclass
class _FilePartition(InputPartition):
    paths: list[str]


class _Reader(DataSourceReader):
    def __init__(self, schema: StructType, paths: list[str], files_per_partition: int) -> None:
        self.arrow_schema = to_arrow_schema(schema)
        self.paths = paths
        self.files_per_partition = files_per_partition

    def partitions(self) -> list[_FilePartition]:
        n = self.files_per_partition
        return [_FilePartition(self.paths[i:i + n]) for i in range(0, len(self.paths), n)] or [_FilePartition([])]

    def read(self, partition: _FilePartition) -> Iterator[pa.RecordBatch]:
        fs = _fs()
        names = self.arrow_schema.names
        for path in partition.paths:
            pf = pq.ParquetFile(path, filesystem=fs)
            available = set(pf.schema_arrow.names)
            for batch in pf.iter_batches(batch_size=65536, columns=[n for n in names if n in available]):
                table = pa.Table.from_batches([batch])
                for name in names:  # a column missing in this file reads as nulls
                    if name not in available:
                        field = self.arrow_schema.field(name)
                        table = table.append_column(field, pa.nulls(len(table), field.type))
                yield from table.select(names).cast(self.arrow_schema).to_batches()


@dataclass
class _Written(WriterCommitMessage):
    paths: list[str]


class _Writer(DataSourceArrowWriter):
    def __init__(self, base: str, overwrite: bool) -> None:
        self.base = base.rstrip("/")
        self.overwrite = overwrite
        self.job = uuid.uuid4().hex

    def write(self, iterator: Iterator[pa.RecordBatch]) -> _Written:
        fs = _fs()
        path = f"{self.base}/{TEMP_DIR}/{self.job}/part-{uuid.uuid4().hex}.parquet"
        writer = None
        try:
            for batch in iterator:
                if writer is None:
                    writer = pq.ParquetWriter(path, batch.schema, filesystem=fs, compression="zstd")
                writer.write_batch(batch)
        finally:
            if writer is not None:
                writer.close()
        return _Written([path] if writer is not None else [])

    def commit(self, messages: list[_Written | None]) -> None:
        fs = _fs()
        if self.overwrite:
            for old in list_parquet(fs, self.base):
                fs.delete_file(old)
            _delete_quietly(fs, f"{self.base}/{SUCCESS}")
        for msg in messages:
            for path in (msg.paths if msg else []):
                fs.move(path, f"{self.base}/{path.rsplit('/', 1)[1]}")
        with fs.open_output_stream(f"{self.base}/{SUCCESS}") as out:
            out.write(json.dumps({"job": self.job}).encode())
        _delete_dir_quietly(fs, f"{self.base}/{TEMP_DIR}/{self.job}")

    def abort(self, messages: list[_Written | None]) -> None:
        _delete_dir_quietly(_fs(), f"{self.base}/{TEMP_DIR}/{self.job}")


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_file(path)


def _delete_dir_quietly(fs: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_dir(path)


class S3ParquetDataSource(DataSource):
    """`spark.read.format("radiolake_s3parquet").option("path", "bucket/prefix")`; see module docstring.

    Options: `path` (required), `files` (JSON list of object paths: read only these), `files_per_partition`.
    """

    @classmethod
    def name(cls) -> str:
        return FORMAT

    def _paths(self) -> list[str]:
        if "files" in self.options:
            return [strip_scheme(p) for p in json.loads(self.options["files"])]
        return list_parquet(_fs(), strip_scheme(self.options["path"]).rstrip("/"))

    def schema(self) -> StructType:
        paths = self._paths()
        if not paths:
            raise FileNotFoundError(f"no Parquet objects under s3://{strip_scheme(self.options['path'])}")
        return from_arrow_schema(pq.read_schema(paths[0], filesystem=_fs()))

    def reader(self, schema: StructType) -> _Reader:
        return _Reader(schema, self._paths(), int(self.options.get("files_per_partition", 1)))

    def writer(self, schema: StructType, overwrite: bool) -> _Writer:
        return _Writer(strip_scheme(self.options["path"]), overwrite)


def register(spark: SparkSession) -> None:
    spark.dataSource.register(S3ParquetDataSource)


def read_parquet_s3(spark: SparkSession, path: str, schema: StructType | None = None,
                    files: list[str] | None = None, files_per_partition: int = 1) -> DataFrame:
    """Read every Parquet object under `path` (or just `files`) into a DataFrame."""
    register(spark)
    reader = spark.read.format(FORMAT).option("path", path).option("files_per_partition", files_per_partition)
    if files is not None:
        reader = reader.option("files", json.dumps(files))
    if schema is not None:
        reader = reader.schema(schema)
    return reader.load()


def write_parquet_s3(df: DataFrame, path: str, mode: str = "overwrite") -> None:
    """Write `df` as Parquet under `path`, committed atomically per job (see module docstring)."""
    register(df.sparkSession)
    df.write.format(FORMAT).mode(mode).option("path", path).save()
