"""Catalogue and result I/O of the cross-match with pyarrow (the driver and the star tasks open files themselves).

Locations: a local file or folder of Parquet (searched recursively), `s3://bucket/prefix` (pyarrow's S3
filesystem, helpers from radiolake.spark.io imported lazily), or a bare lake catalogue name, resolved to
`s3://<catalogs bucket>/<name>`. For HATS-like folders (`Norder=K/Dir=D/Npix=N.parquet`) only the files whose
pixel overlaps the wanted sky are read.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

from radiolake.config import get_settings

HATS_FILE = re.compile(r"Norder=(\d+)/(?:Dir=\d+/)?Npix=(\d+)\.parquet$")
#: A location naming one version of a lake catalogue (what a run reads once it has pinned its inputs).
PINNED_VERSION = re.compile(r"(?P<base>.+)/versions/(?P<version>[^/]+)")


def resolve_location(location: str) -> str:
    """A local path, an s3:// URL, or a lake catalogue name (-> s3://catalogs/<name>)."""
    if location.startswith("s3://") or Path(location).exists() or "/" in location or location.endswith(".parquet"):
        return location
    return f"s3://{get_settings().bucket('catalogs')}/{location}"


def _overlaps(order: int, npix: int, cov_order: int, cov_pixels: np.ndarray) -> bool:
    """Does pixel (order, npix) overlap any of the sorted `cov_pixels` at cov_order?"""
    if order >= cov_order:
        return bool(np.isin(npix >> (2 * (order - cov_order)), cov_pixels))
    shift = 2 * (cov_order - order)
    lo, hi = npix << shift, ((npix + 1) << shift) - 1
    i = np.searchsorted(cov_pixels, lo)
    return bool(i < cov_pixels.size and cov_pixels[i] <= hi)


def _in_coverage(path: str, coverage: tuple[int, np.ndarray] | None) -> bool:
    if coverage is None:
        return True
    m = HATS_FILE.search(path)
    return m is None or _overlaps(int(m.group(1)), int(m.group(2)), coverage[0], coverage[1])


def local_parquet_files(path: Path, coverage: tuple[int, np.ndarray] | None = None) -> list[str]:
    """Parquet files under `path`, minus HATS pixel files that lie outside `coverage` (order, pixels)."""
    if path.is_file():
        return [str(path)]
    files = sorted(
        p for p in path.rglob("*.parquet") if not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
    )
    if coverage is None:
        return [str(p) for p in files]
    cov_order, cov_pixels = coverage[0], np.unique(np.asarray(coverage[1], dtype=np.int64))
    return [str(p) for p in files if _in_coverage(p.as_posix(), (cov_order, cov_pixels))]


def committed_files(fs, base: str) -> list[str] | None:
    """Partition files of the committed version of an ingested lake catalogue at `base`; None if `base` is
    not one (a plain folder of Parquet). Never a listing: older versions, quarantine and truth tables
    live under the same base and must not be read as catalogue rows."""
    from radiolake.ingest import catalog as cat

    if pinned := PINNED_VERSION.fullmatch(base.rstrip("/")):  # <catalogue>/versions/<v>: that version only
        info = cat.open_catalog(fs, pinned["base"], pinned["version"])
        return cat.partition_files(info)
    if not cat.exists(fs, f"{base}/{cat.CURRENT}"):
        return None
    info = cat.open_catalog(fs, base)
    return cat.partition_files(info)


def remove_file(location: str) -> None:
    """Delete a small object if present (run.json at the start of a rerun: the run is not whole until rewritten)."""
    if location.startswith("s3://"):
        from radiolake.lake import minio_client

        bucket, key = location[5:].split("/", 1)
        minio_client().remove_object(bucket, key)  # S3 delete is idempotent: no error when absent
        return
    Path(location).unlink(missing_ok=True)


def write_text(text: str, location: str) -> None:
    """Write a small text object (run.json): local file or s3://bucket/key."""
    if location.startswith("s3://"):
        from radiolake.lake import put_bytes

        bucket, key = location[5:].split("/", 1)
        put_bytes(bucket, key, text.encode(), content_type="application/json")
        return
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def catalogue_files(location: str, coverage: tuple[int, np.ndarray] | None = None) -> tuple[list[str], list[str], bool]:
    """(all Parquet files of the catalogue, those near `coverage`, whether they are S3 `bucket/key` paths).

    Resolves a lake name, s3:// URL, local file or folder; a committed lake
    catalogue's listed partitions only), for readers that open the files with pyarrow themselves."""
    location = resolve_location(location)
    if location.startswith("s3://"):
        from radiolake.lake import arrow_fs
        from radiolake.spark.io import list_parquet, strip_scheme

        fs, base = arrow_fs(), strip_scheme(location).rstrip("/")
        files = committed_files(fs, base)
        if files is None:
            files = list_parquet(fs, base)
        if not files:
            raise FileNotFoundError(f"catalogue {location!r}: no Parquet objects found")
        return files, [f for f in files if _in_coverage(f, coverage)], True
    path = Path(location)
    if not path.exists():
        raise FileNotFoundError(f"catalogue {location!r}: no such file or folder")
    files = None
    if path.is_dir():
        import pyarrow.fs as pafs

        files = committed_files(pafs.LocalFileSystem(), str(path.resolve()))
    if files is None:
        files = [str(Path(f).resolve()) for f in local_parquet_files(path)]
    if not files:
        raise FileNotFoundError(f"catalogue {location!r}: no Parquet files found")
    return files, [f for f in files if _in_coverage(f, coverage)], False


def read_arrow(location: str, columns: list[str] | None = None) -> pa.Table:
    """A whole (small) catalogue as one Arrow table, read with pyarrow on this process (files unified);
    only `columns` (those a file has) when given."""
    import pyarrow.parquet as pq

    from radiolake.crossmatch.star_chunks import filesystem

    files, _, s3 = catalogue_files(location)
    fs = filesystem(s3)

    def read(path: str) -> pa.Table:  # a file at a time: no dataset discovery (its first call costs ~0.5 s)
        with fs.open_input_file(path) as f:
            pf = pq.ParquetFile(f)
            have = None if columns is None else [c for c in columns if c in pf.schema_arrow.names]
            return pf.read(columns=have)

    tables = [read(f) for f in files]
    return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]


def dictionary_columns(table: pa.Table, sample_rows: int = 4096, max_share: float = 0.05) -> list[str]:
    """String columns with few distinct values (run id, survey): the only ones worth dictionary pages.

    Parquet's default tries a dictionary for every column; on unique ids and measured doubles that is wasted
    work (4x the write time of a results table here) and larger files. Judged on the first rows: counting
    distinct values of every id column would cost as much as the dictionary."""
    import pyarrow.compute as pc

    sample = table.slice(0, sample_rows)
    limit = max(1, int(sample.num_rows * max_share))
    return [f.name for f in table.schema
            if (pa.types.is_string(f.type) or pa.types.is_large_string(f.type))
            and pc.count_distinct(sample.column(f.name)).as_py() <= limit]


def read_rows(location: str, positions: np.ndarray, skip: tuple[str, ...] = ()) -> pa.Table:
    """All columns (but `skip`) of the rows at `positions` (sorted; row numbers of the catalogue as `read_arrow`
    reads it), read one row group at a time: only the wanted rows are ever held, not the whole catalogue."""
    import pyarrow.parquet as pq

    from radiolake.crossmatch.star_chunks import filesystem

    positions = np.asarray(positions, dtype=np.int64)
    files, _, s3 = catalogue_files(location)
    fs = filesystem(s3)
    pieces, start = [], 0
    for f in files:
        with fs.open_input_file(f) as fh:
            pf = pq.ParquetFile(fh)
            names = [c for c in pf.schema_arrow.names if c not in skip]
            pieces.append(pf.schema_arrow.empty_table().select(names))  # every file's columns, unified
            for g in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                a, b = np.searchsorted(positions, [start, start + n])
                if b > a:
                    pieces.append(pf.read_row_group(g, columns=names).take(pa.array(positions[a:b] - start)))
                start += n
    return pa.concat_tables(pieces, promote_options="permissive") if len(pieces) > 1 else pieces[0]


def write_arrow(table: pa.Table, location: str) -> int:
    """Write a result table as a Parquet folder (`part-*.parquet` + `_SUCCESS`), replacing an earlier attempt
    of the same run: the new file is written aside, then old parts are removed and it is moved in. Returns
    the bytes written."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    from radiolake.spark.io import SUCCESS, TEMP_DIR, list_parquet, strip_scheme

    if location.startswith("s3://"):
        from radiolake.lake import arrow_fs

        fs, base = arrow_fs(), strip_scheme(location).rstrip("/")
    else:
        fs, base = pafs.LocalFileSystem(), str(Path(location).resolve())
        fs.create_dir(f"{base}/{TEMP_DIR}", recursive=True)
    name = f"part-00000-{uuid.uuid4().hex}.parquet"
    tmp = f"{base}/{TEMP_DIR}/{name}"
    pq.write_table(table, tmp, filesystem=fs, compression="zstd", use_dictionary=dictionary_columns(table))
    size = fs.get_file_info(tmp).size
    for old in list_parquet(fs, base):
        fs.delete_file(old)
    fs.move(tmp, f"{base}/{name}")
    with fs.open_output_stream(f"{base}/{SUCCESS}") as out:
        out.write(b"{}")
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_dir(f"{base}/{TEMP_DIR}")
    return size
