"""Which catalogue rows can be matched, and why the others cannot (the quarantine's `reason`)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REASONS = (
    "source_id is null",
    "ra missing or outside [0, 360)",
    "dec missing or outside [-90, 90]",
    "epoch missing",
    "healpix missing",
)


def _floats(table: pa.Table, name: str) -> np.ndarray:
    col = pc.cast(table.column(name), pa.float64())
    return col.fill_null(np.nan).to_numpy() if col.null_count else col.to_numpy()


def invalid_codes(table: pa.Table, what: str) -> np.ndarray:
    """Per row: 0 if usable, else 1 + the index of the first reason in REASONS that applies."""
    n = table.num_rows
    code = np.zeros(n, np.int8)

    def mark(bad: np.ndarray, reason: int) -> None:
        code[(code == 0) & bad] = reason + 1

    mark(table.column("source_id").is_null().to_numpy(zero_copy_only=False), 0)
    ra, dec, epoch = _floats(table, "ra"), _floats(table, "dec"), _floats(table, "epoch")
    with np.errstate(invalid="ignore"):
        mark(~((ra >= 0) & (ra < 360)), 1)
        mark(~(np.abs(dec) <= 90), 2)
    mark(~np.isfinite(epoch), 3)
    if what == "star":
        mark(table.column("healpix").is_null().to_numpy(zero_copy_only=False), 4)
    return code


def quarantined(table: pa.Table, codes: np.ndarray) -> pa.Table:
    """The invalid rows with a `reason` column."""
    bad = np.flatnonzero(codes)
    reasons = np.array(REASONS, dtype=object)[codes[bad].astype(np.int64) - 1]
    return table.take(pa.array(bad)).append_column("reason", pa.array(reasons, pa.string()))
