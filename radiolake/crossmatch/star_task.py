"""One task of the cross-match, on any executor: read a star chunk where it lies, match it, return only
small things (a typed ChunkResult).

Runs in the executors' Python workers (Spark's, or this process under the map executor), so it imports only
numpy and pyarrow (no astropy, scipy, pandas or pyspark.sql): a worker starts in a fraction of a second. Star
rows never leave the task: what goes back to the driver is the pairs (integer keys, string ids of matched
stars only; of the offset skies only sky row and separation), the few fast movers, full rows of the matched
stars, star counts per density pixel, and the quarantined rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from radiolake.crossmatch.engine import STAR_MATCH_COLUMNS, RadioRows, match_star_chunk, split_skies
from radiolake.crossmatch.kernels import MatchKernel
from radiolake.crossmatch.pairs import MatchCriteria
from radiolake.crossmatch.populations import N_CLASSES, classes_of
from radiolake.crossmatch.star_chunks import (
    STAR_REQUIRED,
    StarChunk,
    filesystem,
    float_arrays,
    read_chunk,
    require_columns,
)
from radiolake.crossmatch.validity import invalid_codes, quarantined
from radiolake.schema import HEALPIX_ORDER

#: Columns a star task reads for every row.
STAR_READ = ("source_id", "healpix", *STAR_MATCH_COLUMNS)


@dataclass(frozen=True)
class TaskContext:
    """What every star task needs besides its chunk and radio rows."""

    criteria: MatchCriteria
    radio_epoch_range: tuple[float, float]
    slow_limit_arcsec: float
    density_order: int
    n_radio: int
    kernel: MatchKernel
    sky_rows: bool = False  # payloads name sky rows (engine.RadioSkies.sky_rows), else real rows (every sky)


@dataclass
class ChunkResult:
    """What one star chunk sends back to the driver: only small things.

    found: the real sky's pairs (engine result columns, `sky` = radio row; no `star_idx`); star_id: per
    found pair; off: the offset skies' pairs (`sky`, `separation_arcsec`, `star_class`); full: every column
    of the matched (real sky) and fast stars, in chunk row order `full_idx`; fast: chunk rows of the fast
    movers (matched by the driver); counts: (density pixel * N_CLASSES + class, valid stars in it); bad: the
    quarantined rows with their reason (None: none); n_valid, bytes read, seconds spent."""

    found: dict[str, np.ndarray]
    star_id: pa.Array | pa.ChunkedArray
    off: dict[str, np.ndarray]
    full: pa.Table | None
    full_idx: np.ndarray
    fast: np.ndarray
    counts: tuple[np.ndarray, np.ndarray]
    bad: pa.Table | None
    n_valid: int
    bytes: int
    seconds: float

    def take_pairs(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], pa.Array | pa.ChunkedArray]:
        """(found, off, star_id), handed over: the result keeps only what the write needs after the reduce."""
        out = (self.found, self.off, self.star_id)
        self.found, self.off, self.star_id = {}, {}, pa.array([], pa.string())
        return out

    def fast_rows(self) -> pa.Table | None:
        """Every column of this chunk's fast movers (None: none)."""
        if not self.fast.size:
            return None
        return self.full.take(pa.array(np.searchsorted(self.full_idx, self.fast)))


def run_star_chunk(ctx: TaskContext, chunk: StarChunk, radio: dict[str, np.ndarray]) -> ChunkResult:
    """Read a star chunk where it lies, quarantine its invalid rows, count its stars per density pixel, match
    it against its radio rows (every sky); return only small things."""
    t0 = time.perf_counter()
    table = read_chunk(chunk, list(STAR_READ))
    require_columns(table.column_names, STAR_REQUIRED, "star")
    codes = invalid_codes(table, "star")
    bad = quarantined(table, codes) if codes.any() else None
    ok = np.flatnonzero(codes == 0)
    if ok.size < table.num_rows:
        table = table.take(pa.array(ok))
    stars = float_arrays(table)
    healpix = table.column("healpix").to_numpy()
    # per (density pixel, population class): key = pixel * N_CLASSES + class (density.class_counts)
    pix, counts = class_pixel_counts(healpix >> (2 * (HEALPIX_ORDER - ctx.density_order)), classes_of(stars, ok.size))
    res, fast = match_star_chunk(stars, radio, ctx.kernel, ctx.criteria, ctx.radio_epoch_range,
                                 ctx.slow_limit_arcsec)
    res, off = split_skies(res, ctx.n_radio)
    wanted = np.union1d(np.unique(res["star_idx"]), fast)  # full rows only of the matched (real sky) and fast
    full, n_bytes = _full_rows(chunk, table, ok, wanted)
    return ChunkResult(
        found={k: v for k, v in res.items() if k != "star_idx"},
        star_id=table.column("source_id").take(pa.array(res["star_idx"])),
        off=off, full=full, full_idx=wanted, fast=fast, counts=(pix, counts), bad=bad, n_valid=int(ok.size),
        bytes=n_bytes, seconds=time.perf_counter() - t0)


def _full_rows(chunk: StarChunk, table: pa.Table, ok: np.ndarray, wanted: np.ndarray) -> tuple[pa.Table | None, int]:
    """(every column of the valid rows `wanted`, the chunk's bytes read): the columns the match did not read
    are read now, for the chunk's row groups, and only these rows are kept."""
    if not wanted.size:
        return None, chunk.n_bytes
    rest_cols = [c for c in _all_columns(chunk) if c not in table.column_names]
    full = table.take(pa.array(wanted))
    if not rest_cols:
        return full, chunk.n_bytes
    rest = read_chunk(chunk, rest_cols).take(pa.array(ok[wanted]))
    for name in rest_cols:
        full = full.append_column(rest.schema.field(name), rest.column(name))
    return full, chunk.n_bytes + chunk.rest_bytes


def class_pixel_counts(pix: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys pixel * N_CLASSES + class and their row counts, sorted (as np.unique gives them). With
    the pixels sorted (lake files and sorted copies are), a count per (run of one pixel, class): no sort or
    hash of the keys, which the classes leave unsorted within a pixel."""
    if not pix.size or not (pix[1:] >= pix[:-1]).all():
        return pixel_counts(pix * N_CLASSES + classes)
    starts = np.concatenate([[0], np.flatnonzero(pix[1:] != pix[:-1]) + 1])
    run = np.repeat(np.arange(starts.size), np.diff(np.append(starts, pix.size)))
    counts = np.bincount(run * N_CLASSES + classes, minlength=starts.size * N_CLASSES)
    keys = np.flatnonzero(counts)
    return pix[starts][keys // N_CLASSES] * N_CLASSES + keys % N_CLASSES, counts[keys]


def pixel_counts(pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pixels and their row counts; a run-length count when sorted (lake files are), else unique."""
    if pix.size and not (pix[1:] >= pix[:-1]).all():
        return np.unique(pix, return_counts=True)
    starts = np.concatenate([[0], np.flatnonzero(pix[1:] != pix[:-1]) + 1]) if pix.size else np.zeros(0, np.int64)
    return pix[starts], np.diff(np.append(starts, pix.size))


def run_star_group(ctx: TaskContext, radio: RadioRows, payloads: list[tuple[StarChunk, np.ndarray]]
                   ) -> list[ChunkResult]:
    """One task of an executor: several chunks one after the other (fewer, larger tasks; memory stays one
    chunk's). `radio`: the radio rows, shipped once per executor; each payload names the rows its chunk needs."""
    rows = radio.arrays_for_sky if ctx.sky_rows else radio.arrays
    return [run_star_chunk(ctx, chunk, rows(needed)) for chunk, needed in payloads]


def warm_up(_: object) -> None:
    """Nothing: a task that runs it has imported this module (numpy, pyarrow, the engine) in its worker."""


def _all_columns(chunk: StarChunk) -> list[str]:
    import pyarrow.parquet as pq

    with filesystem(chunk.s3).open_input_file(chunk.path) as f:
        return pq.ParquetFile(f).schema_arrow.names


