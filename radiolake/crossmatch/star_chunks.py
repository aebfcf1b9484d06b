"""The star side as chunks of Parquet row groups, planned from metadata alone and read by the task itself.

A chunk is a run of row groups of one file (a HATS pixel file, or a plain Parquet file). Planning reads only
Parquet footers: each row group's `healpix` min/max says which sky it covers, so row groups away from the
radio footprint (plus margin) are never read, and a chunk's pixel range selects the radio rows it needs.
The same footers give the statistics the plan needs (epoch range, largest proper motion and errors) without a
pass over the rows; a column without statistics is read (only that column) instead.

Tasks read their chunk with pyarrow directly (local files, or the object store through pyarrow's S3 client):
only the columns the match needs; the remaining columns only for the few rows that matched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from radiolake.crossmatch.engine import STAR_MATCH_COLUMNS

#: Rows a chunk gathers (at least one row group): bounds a task's memory, and a small chunk's arrays are
#: reused by the next chunk of the task. Fresh pages are dear on a VM whose host reclaims free memory (first
#: touch ~3 s per GB): at 10 M stars, 1 M-row chunks made each worker's first chunk ~5x slower than the others
#: and the whole run ~1 s slower than 250 k-row chunks.
CHUNK_ROWS = 250_000
#: Columns a star catalogue must have (the canonical schema, radiolake/schema.py); a radio catalogue's.
STAR_REQUIRED = ("source_id", "ra", "dec", "epoch", "healpix")
RADIO_REQUIRED = ("source_id", "ra", "dec", "epoch")
STATS_COLUMNS = ("epoch", "pmra", "pmdec", "ra_error", "dec_error", "pmra_error", "pmdec_error", "parallax")


class CatalogueError(ValueError):
    """A catalogue lacks a column the cross-match needs."""


def require_columns(names: list[str], columns: tuple[str, ...], what: str) -> None:
    """CatalogueError naming the missing columns of a `what` ("radio", "star") catalogue."""
    missing = [c for c in columns if c not in names]
    if missing:
        raise CatalogueError(
            f"{what} catalogue lacks column(s) {missing}; expected the canonical schema (radiolake/schema.py)"
        )


def filesystem(s3: bool) -> pafs.FileSystem:
    if s3:
        from radiolake.lake import arrow_fs

        return arrow_fs()
    return pafs.LocalFileSystem()


@dataclass(frozen=True)
class RowGroup:
    path: str
    index: int
    n_rows: int
    hp_min: int | None  # fine healpix range (None: no statistics)
    hp_max: int | None
    col_bytes: dict[str, int]  # compressed bytes per column
    stats: dict[str, tuple[float, float] | None]  # (min, max) of STATS_COLUMNS; None: unknown
    box: tuple[float, float, float, float] | None = None  # ra min, ra max, dec min, dec max; None: unknown


@dataclass(frozen=True)
class StarChunk:
    """What one task reads: row groups of one file, and the fine healpix range they cover (None: unknown)."""

    path: str
    s3: bool
    row_groups: tuple[int, ...]
    hp_min: int | None
    hp_max: int | None
    n_rows: int
    n_bytes: int  # compressed bytes of the columns the match reads
    rest_bytes: int  # compressed bytes of the other columns (read only where stars matched)
    boxes: tuple[tuple[float, float, float, float], ...] | None = None  # ra/dec bounds per row group; None: unknown


def _minmax(col: pq.ColumnChunkMetaData) -> tuple[float, float] | None:
    st = col.statistics
    if st is None or not st.has_min_max:
        return None
    return float(st.min), float(st.max)


def row_groups(fs: pafs.FileSystem, path: str) -> tuple[pa.Schema, list[RowGroup]]:
    """Schema and per-row-group metadata of one Parquet file (its footer only)."""
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        meta = pf.metadata
        schema = pf.schema_arrow
    out = []
    for g in range(meta.num_row_groups):
        rg = meta.row_group(g)
        cols = {rg.column(c).path_in_schema: rg.column(c) for c in range(rg.num_columns)}
        hp = _minmax(cols["healpix"]) if "healpix" in cols and rg.num_rows else None
        out.append(
            RowGroup(
                path=path,
                index=g,
                n_rows=rg.num_rows,
                hp_min=int(hp[0]) if hp else None,
                hp_max=int(hp[1]) if hp else None,
                col_bytes={name: c.total_compressed_size for name, c in cols.items()},
                box=_box(cols) if rg.num_rows else None,
                stats={
                    name: (_minmax(cols[name]) if cols[name].statistics is None or
                           cols[name].statistics.null_count < rg.num_rows else (math.nan, math.nan))
                    for name in STATS_COLUMNS if name in cols
                },
            )
        )
    return schema, out


def _box(cols: dict) -> tuple[float, float, float, float] | None:
    ra = _minmax(cols["ra"]) if "ra" in cols else None
    dec = _minmax(cols["dec"]) if "dec" in cols else None
    return (*ra, *dec) if ra and dec else None


def overlaps(rg: RowGroup, ranges: np.ndarray | None) -> bool:
    """Does the row group's healpix range meet any of the sorted, disjoint (lo, hi) `ranges`?"""
    if ranges is None or rg.hp_min is None:
        return True
    i = np.searchsorted(ranges[:, 1], rg.hp_min)  # first range ending at or after hp_min
    return bool(i < len(ranges) and ranges[i, 0] <= rg.hp_max)


def metadata_stats(groups: list[RowGroup], fs: pafs.FileSystem) -> dict[str, tuple[float, float]]:
    """(min, max) per STATS_COLUMNS over the row groups, from footers; columns lacking statistics are read."""
    out: dict[str, tuple[float, float]] = {}
    for name in STATS_COLUMNS:
        lo, hi = math.inf, -math.inf
        for rg in groups:
            if name not in rg.stats:
                continue
            mm = rg.stats[name]
            if mm is None:  # no statistics written: read this column of this row group
                with fs.open_input_file(rg.path) as f:
                    col = pq.ParquetFile(f).read_row_group(rg.index, columns=[name]).column(0)
                col = pc.cast(col, pa.float64())
                col = pc.filter(col, pc.invert(pc.is_nan(col)))
                mm = (pc.min(col).as_py(), pc.max(col).as_py()) if len(col) else (math.nan, math.nan)
                mm = tuple(math.nan if v is None else v for v in mm)
            if not math.isnan(mm[0]):
                lo, hi = min(lo, mm[0]), max(hi, mm[1])
        if lo <= hi:
            out[name] = (lo, hi)
    return out


def plan_chunks(groups: list[RowGroup], s3: bool, columns: set[str], chunk_rows: int = CHUNK_ROWS) -> list[StarChunk]:
    """Consecutive row groups of a file, up to `chunk_rows` rows, become one chunk."""
    chunks: list[StarChunk] = []
    run: list[RowGroup] = []

    def flush() -> None:
        if not run:
            return
        known = all(g.hp_min is not None for g in run)
        chunks.append(
            StarChunk(
                path=run[0].path,
                s3=s3,
                row_groups=tuple(g.index for g in run),
                hp_min=min(g.hp_min for g in run) if known else None,
                hp_max=max(g.hp_max for g in run) if known else None,
                n_rows=sum(g.n_rows for g in run),
                n_bytes=sum(b for g in run for c, b in g.col_bytes.items() if c in columns),
                rest_bytes=sum(b for g in run for c, b in g.col_bytes.items() if c not in columns),
                boxes=tuple(g.box for g in run) if all(g.box is not None for g in run) else None,
            )
        )
        run.clear()

    for g in groups:
        if run and (g.path != run[0].path or g.index != run[-1].index + 1 or sum(r.n_rows for r in run) >= chunk_rows):
            flush()
        run.append(g)
    flush()
    return chunks


def read_chunk(chunk: StarChunk, columns: list[str]) -> pa.Table:
    """The chunk's rows, only `columns` (those the file has)."""
    fs = filesystem(chunk.s3)
    with fs.open_input_file(chunk.path) as f:
        pf = pq.ParquetFile(f)
        have = [c for c in columns if c in pf.schema_arrow.names]
        return pf.read_row_groups(list(chunk.row_groups), columns=have)


def float_arrays(table: pa.Table, names: tuple[str, ...] = STAR_MATCH_COLUMNS) -> dict[str, np.ndarray]:
    """Columns as float64 numpy arrays, NaN for nulls and for absent columns."""
    out = {}
    for name in names:
        if name not in table.column_names:
            out[name] = np.full(table.num_rows, np.nan)
            continue
        col = pc.cast(table.column(name), pa.float64())
        out[name] = col.fill_null(math.nan).to_numpy() if col.null_count else col.to_numpy()
    return out
