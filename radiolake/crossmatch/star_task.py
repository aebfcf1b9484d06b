"""One Spark task of the cross-match: read a star chunk where it lies, match it, return only small things.

Runs in the executors' Python workers, so it imports only numpy and pyarrow (no astropy, scipy, pandas or
pyspark.sql): a worker starts in a fraction of a second. Star rows never leave the task: what goes back to the
driver is the pairs (integer keys, string ids of matched stars only; of the offset skies only sky row and
separation), the few fast movers, full rows of the matched stars, star counts per density pixel, and the
quarantined rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:
    from pyspark import Broadcast

from radiolake.crossmatch.engine import STAR_MATCH_COLUMNS, RadioRows, match_star_chunk, split_skies
from radiolake.crossmatch.pairs import MatchCriteria
from radiolake.crossmatch.populations import N_CLASSES, classes_of
from radiolake.crossmatch.star_chunks import StarChunk, filesystem, float_arrays, read_chunk
from radiolake.crossmatch.validity import invalid_codes, quarantined
from radiolake.schema import HEALPIX_ORDER

#: Columns a star task reads for every row.
STAR_READ = ("source_id", "healpix", *STAR_MATCH_COLUMNS)


def _require(names: list[str], columns: list[str]) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"star catalogue lacks column(s) {missing}; expected the canonical schema")


@dataclass(frozen=True)
class TaskContext:
    """What every star task needs besides its chunk and radio rows."""

    criteria: MatchCriteria
    radio_epoch_range: tuple[float, float]
    slow_limit_arcsec: float
    density_order: int
    n_radio: int


def run_star_chunk(ctx: TaskContext, payload: tuple[StarChunk, dict[str, np.ndarray]]) -> dict:
    """One Spark task: read a star chunk, match it against its radio rows; return only small things."""
    chunk, radio = payload
    t0 = time.perf_counter()
    table = read_chunk(chunk, list(STAR_READ))
    _require(table.column_names, ["source_id", "ra", "dec", "epoch", "healpix"])
    codes = invalid_codes(table, "star")
    bad = quarantined(table, codes) if codes.any() else None
    ok = np.flatnonzero(codes == 0)
    if ok.size < table.num_rows:
        table = table.take(pa.array(ok))
    stars = float_arrays(table)
    healpix = table.column("healpix").to_numpy()
    # per (density pixel, population class): key = pixel * N_CLASSES + class (density.class_counts)
    pix, counts = pixel_counts((healpix >> (2 * (HEALPIX_ORDER - ctx.density_order))) * N_CLASSES
                               + classes_of(stars, ok.size))
    res, fast = match_star_chunk(stars, radio, ctx.criteria, ctx.radio_epoch_range, ctx.slow_limit_arcsec)
    res, off = split_skies(res, ctx.n_radio)
    ids = table.column("source_id")
    real_rows = np.unique(res["star_idx"])
    wanted = np.union1d(real_rows, fast)
    full, n_bytes = None, chunk.n_bytes
    if wanted.size:  # full rows only of the stars that matched (real sky) or move fast
        rest_cols = [c for c in _all_columns(chunk) if c not in table.column_names]
        full = table.take(pa.array(wanted))
        if rest_cols:
            rest = read_chunk(chunk, rest_cols)
            rest = rest.take(pa.array(ok[wanted]))
            for name in rest_cols:
                full = full.append_column(rest.schema.field(name), rest.column(name))
            n_bytes += chunk.rest_bytes
    return {
        "found": {k: v for k, v in res.items() if k != "star_idx"},  # the real sky's pairs
        "star_id": ids.take(pa.array(res["star_idx"])),
        "off": off,  # the offset skies' pairs: sky row and separation only
        "full": full,
        "full_idx": wanted,
        "fast": fast,
        "real_rows": real_rows,
        "counts": (pix, counts),
        "n_valid": int(ok.size),
        "bad": bad,
        "bytes": n_bytes,
        "seconds": time.perf_counter() - t0,
    }


def pixel_counts(pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pixels and their row counts; a run-length count when sorted (lake files are), else unique."""
    if pix.size and not (pix[1:] >= pix[:-1]).all():
        return np.unique(pix, return_counts=True)
    starts = np.concatenate([[0], np.flatnonzero(pix[1:] != pix[:-1]) + 1]) if pix.size else np.zeros(0, np.int64)
    return pix[starts], np.diff(np.append(starts, pix.size))


def run_star_group(ctx: TaskContext, radio: RadioRows | Broadcast, payloads: list[tuple[StarChunk, np.ndarray]]
                   ) -> list[dict]:
    """One Spark task: several chunks one after the other (fewer, larger tasks; memory stays one chunk's).

    `radio`: the radio rows (or Spark's broadcast of them); each payload names the rows its chunk needs."""
    rows = radio.value if hasattr(radio, "value") else radio
    return [run_star_chunk(ctx, (chunk, rows.arrays(needed))) for chunk, needed in payloads]


def warm_up(_: object) -> None:
    """Nothing: a task that runs it has imported this module (numpy, pyarrow, the engine) in its worker."""


def _all_columns(chunk: StarChunk) -> list[str]:
    import pyarrow.parquet as pq

    with filesystem(chunk.s3).open_input_file(chunk.path) as f:
        return pq.ParquetFile(f).schema_arrow.names


