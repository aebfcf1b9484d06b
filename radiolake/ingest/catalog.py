"""A catalogue in the lake: its layout, its metadata, and reading it back (only committed versions).

Layout under a base path (``catalogs/<name>`` in the catalogs bucket, or any local folder)::

    <base>/CURRENT                     {"version": ...}: the committed version readers use; written last
    <base>/versions/<version>/         one complete HATS-style catalogue, written in place, then committed:
        dataset/Norder=K/Dir=D/Npix=N.parquet   rows whose healpix >> 2*(29-K) == N, sorted by healpix
                                       (only the partitions this version wrote: see "Growth" below)
        dataset/_metadata, dataset/_common_metadata   Parquet footers of all its files (shared ones as
                                       ../../<older version>/dataset/...) / the schema
        partition_info.csv             Norder,Npix of every partition
        properties                     HATS properties (key=value)
        metadata.json                  counts per partition, schema, units, epoch, provenance, quarantine,
                                       layers (which ingest each region's rows come from)
        moc.fits                       the version's coverage (IVOA MOC, `coverage`)
        truth.parquet                  (synthetic radio only) which radio source is which star
        _COMMITTED                     written after everything above: a version without it is not whole
    <base>/quarantine/<version>.parquet   rejected rows with reasons (also kept when an ingest fails)

S3 has no atomic rename, so a version is never moved: it is trusted only when its ``_COMMITTED`` marker
exists, and ``CURRENT`` moves to it afterwards. A version id is a hash of the inputs (definition, raw
checksums, parameters), so re-ingesting the same input finds the same committed version and writes nothing.
LSDB/HATS readers open ``<base>/versions/<version>``: every version's HATS files (``_metadata``,
``partition_info.csv``, ``properties``) cover all its partitions, shared ones included (`hats_files`); for a
version that shares partitions, `lsdb.open_catalog(path, path_generator=hats_files.SharedPartitionPaths.of(info))`
reads the shared files where they are.

Growth (`growth`): ingesting a region makes a new version from CURRENT: the partitions the region does not
touch are shared, not copied (their metadata entry names the version folder holding the file, `"version"`),
the touched ones are rewritten with the region's new rows. Readers therefore take a version's files from
`partition_files`, never by listing or by joining the version folder with a partition path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

CURRENT = "CURRENT"
COMMITTED = "_COMMITTED"
METADATA = "metadata.json"


class CatalogNotFound(FileNotFoundError):
    """No committed catalogue at this path."""


def version_path(base: str, version: str) -> str:
    return f"{base}/versions/{version}"


def partition_path(order: int, pixel: int) -> str:
    """HATS file name of one partition, relative to a version folder."""
    return f"dataset/Norder={order}/Dir={pixel // 10000 * 10000}/Npix={pixel}.parquet"


def quarantine_path(base: str, version: str) -> str:
    return f"{base}/quarantine/{version}.parquet"


def exists(fs: pafs.FileSystem, path: str) -> bool:
    return fs.get_file_info(path).type != pafs.FileType.NotFound


def read_text(fs: pafs.FileSystem, path: str) -> str:
    with fs.open_input_stream(path) as fh:
        return fh.read().decode()


def write_text(fs: pafs.FileSystem, path: str, text: str) -> None:
    ensure_parent(fs, path)
    with fs.open_output_stream(path) as fh:
        fh.write(text.encode())


def ensure_parent(fs: pafs.FileSystem, path: str) -> None:
    """Object stores need no folders; a local filesystem does."""
    if isinstance(fs, pafs.LocalFileSystem):
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)


def is_committed(fs: pafs.FileSystem, base: str, version: str) -> bool:
    return exists(fs, f"{version_path(base, version)}/{COMMITTED}")


def current_version(fs: pafs.FileSystem, base: str) -> str | None:
    """The committed version CURRENT points at, or None (no catalogue, or a pointer to an uncommitted one)."""
    if not exists(fs, f"{base}/{CURRENT}"):
        return None
    version = json.loads(read_text(fs, f"{base}/{CURRENT}"))["version"]
    return version if is_committed(fs, base, version) else None


def list_versions(fs: pafs.FileSystem, base: str) -> dict[str, bool]:
    """{version: committed?} for every version folder, whole or not."""
    infos = fs.get_file_info(pafs.FileSelector(f"{base}/versions", allow_not_found=True))
    names = [i.base_name for i in infos if i.type == pafs.FileType.Directory]
    return {v: is_committed(fs, base, v) for v in sorted(names)}


@dataclass(frozen=True)
class CatalogInfo:
    base: str
    version: str
    metadata: dict[str, Any]

    @property
    def path(self) -> str:
        return version_path(self.base, self.version)

    @property
    def n_rows(self) -> int:
        return int(self.metadata["n_rows"])

    @property
    def partitions(self) -> list[dict[str, Any]]:
        return self.metadata["partitions"]


def open_catalog(fs: pafs.FileSystem, base: str, version: str | None = None) -> CatalogInfo:
    """The committed catalogue at `base` (its CURRENT version, or `version` if given and committed)."""
    version = version or current_version(fs, base)
    if version is None or not is_committed(fs, base, version):
        raise CatalogNotFound(
            f"no committed catalogue at {base}" + (f" (version {version})" if version else "")
        )
    metadata = json.loads(read_text(fs, f"{version_path(base, version)}/{METADATA}"))
    return CatalogInfo(base=base, version=version, metadata=metadata)


def partition_file(base: str, version: str, partition: dict[str, Any]) -> str:
    """Where one partition of `version` lives: in its own folder, or in the older version it is shared from."""
    return f"{version_path(base, partition.get('version') or version)}/{partition['path']}"


def partition_files(info: CatalogInfo) -> list[str]:
    """The files of a committed version, from its metadata (shared partitions in the folder that holds them)."""
    return [partition_file(info.base, info.version, p) for p in info.partitions]


def catalog_dataset(fs: pafs.FileSystem, base: str, version: str | None = None) -> ds.Dataset:
    """A pyarrow dataset over the committed partitions (file list from the metadata, not a listing)."""
    info = open_catalog(fs, base, version)
    files = partition_files(info)
    schema = pa.schema(
        [
            pa.field(
                f["name"], pa.type_for_alias(f["type"]) if f["type"] != "large_string" else pa.large_string()
            )
            for f in info.metadata["schema"]
        ]
    )
    return ds.dataset(files, schema=schema, format="parquet", filesystem=fs)


def read_catalog(
    fs: pafs.FileSystem, base: str, columns: list[str] | None = None, version: str | None = None
) -> pa.Table:
    return catalog_dataset(fs, base, version).to_table(columns=columns)


def read_quarantine(fs: pafs.FileSystem, base: str, version: str) -> pa.Table:
    path = quarantine_path(base, version)
    if not exists(fs, path):
        from radiolake.ingest.normalize import QUARANTINE_SCHEMA

        return QUARANTINE_SCHEMA.empty_table()
    return pq.read_table(path, filesystem=fs)
