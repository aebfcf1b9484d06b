"""The driver's view of its two inputs, before any star row is read.

The radio catalogue: the columns the match needs, read on the driver with pyarrow, its invalid rows
quarantined with their reason (the other columns are read again at the end, for the matched rows only).
The star catalogue: only the Parquet footers of the files near the radio footprint; their statistics give
the plan (epochs, largest proper motion and errors) without a pass over the star rows, and their row groups
are what the star chunks are cut from. Also the coverage: which stars the run needs at all.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from radiolake.crossmatch.engine import radio_columns
from radiolake.crossmatch.io import catalogue_files, read_arrow, read_rows
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, SPAN_COLUMN
from radiolake.crossmatch.partitioning import MIN_JOIN_ORDER, fine_ranges, home_pixels, pixel_size_arcsec
from radiolake.crossmatch.plan import CatalogueStats
from radiolake.crossmatch.star_chunks import (
    RADIO_REQUIRED,
    STAR_REQUIRED,
    RowGroup,
    filesystem,
    float_arrays,
    metadata_stats,
    overlaps,
    require_columns,
    row_groups,
)
from radiolake.crossmatch.validity import invalid_codes, quarantined

#: Radio columns the driver holds (the match's); the rest is read again only for matched rows.
RADIO_READ = ("source_id", "ra", "dec", "epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS, SPAN_COLUMN)
#: More healpix ranges than this are coarsened (the row-group filter stays cheap).
MAX_RANGES = 500


@dataclass
class RadioInput:
    """The valid radio rows the match needs. columns: float arrays (engine.radio_columns); ids: their
    source ids (Arrow); valid_rows: catalogue row of each valid row (None: every row is valid); bad: the
    quarantined rows with their reason (None: none)."""

    location: str
    columns: dict[str, np.ndarray]
    ids: pa.Array
    valid_rows: np.ndarray | None
    bad: pa.Table | None

    @classmethod
    def read(cls, location: str) -> RadioInput:
        table = read_arrow(location, columns=list(RADIO_READ))
        require_columns(table.column_names, RADIO_REQUIRED, "radio")
        codes = invalid_codes(table, "radio")
        valid_rows = np.flatnonzero(codes == 0) if codes.any() else None
        bad = quarantined(read_rows(location, np.flatnonzero(codes)), codes[codes != 0]) if codes.any() else None
        columns = radio_columns(float_arrays(table, RADIO_READ[1:]))
        ids = table.column("source_id").combine_chunks()
        del table
        if valid_rows is not None:
            columns = {k: v[valid_rows] for k, v in columns.items()}
            ids = ids.take(pa.array(valid_rows))
        return cls(location, columns, ids, valid_rows, bad)

    def catalogue_rows(self, rows: np.ndarray) -> np.ndarray:
        """Catalogue row of each of these valid rows."""
        return rows if self.valid_rows is None else self.valid_rows[rows]


@dataclass
class StarInput:
    """The star row groups near the radio footprint (from footers only), the file schema and its statistics."""

    location: str
    s3: bool
    schema: pa.Schema
    groups: list[RowGroup]
    meta: dict[str, tuple[float, float]]

    @classmethod
    def near(cls, location: str, radio: RadioInput) -> StarInput:
        foot = with_neighbours(home_pixels(radio.columns["ra"], radio.columns["dec"], MIN_JOIN_ORDER), MIN_JOIN_ORDER)
        all_files, near_files, s3 = catalogue_files(location, coverage=(MIN_JOIN_ORDER, foot))
        schema, groups = _footers(near_files, s3)
        if schema is None:
            schema, _ = _footers(all_files[:1], s3)
        require_columns(schema.names, STAR_REQUIRED, "star")
        groups = [g for g in groups if overlaps(g, pixel_ranges(MIN_JOIN_ORDER, foot))]
        return cls(location, s3, schema, groups, metadata_stats(groups, filesystem(s3)))

    def stats(self, radio: RadioInput) -> CatalogueStats:
        """What the plan needs to know of both inputs: radio from its rows, stars from their footers."""
        return catalogue_stats(radio.columns, self.meta, sum(g.n_rows for g in self.groups))

    def covering(self, ranges: np.ndarray) -> list[RowGroup]:
        return [g for g in self.groups if overlaps(g, ranges)]


def _footers(files: list[str], s3: bool) -> tuple[pa.Schema | None, list]:
    if not files:
        return None, []
    fs = filesystem(s3)
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda f: row_groups(fs, f), files))
    return parts[0][0], [g for _, gs in parts for g in gs]


def catalogue_stats(radio: dict[str, np.ndarray], meta: dict[str, tuple[float, float]], n_stars: int
                    ) -> CatalogueStats:
    """The plan's statistics: the radio rows' own, the stars' from footer (min, max) per column."""
    def hi(name: str) -> float:
        lo_hi = meta.get(name)
        return max(abs(lo_hi[0]), abs(lo_hi[1])) if lo_hi else 0.0

    def nanmax(a: np.ndarray) -> float:
        a = a[np.isfinite(a)]
        return float(a.max()) if a.size else 0.0

    epoch = meta.get("epoch", (0.0, 0.0))
    n_radio = radio["ra"].size
    return CatalogueStats(
        n_radio=n_radio,
        n_stars=n_stars,
        radio_epoch_min=float(radio["epoch"].min()) if n_radio else 0.0,
        radio_epoch_max=float(radio["epoch"].max()) if n_radio else 0.0,
        star_epoch_min=epoch[0],
        star_epoch_max=epoch[1],
        star_pm_max=math.hypot(hi("pmra"), hi("pmdec")),  # a bound from min/max: exact enough for a reach
        radio_err_max=max(nanmax(radio[c]) for c in ("ra_error", "dec_error", "pos_err_major") if c in radio),
        star_err_max=max(hi("ra_error"), hi("dec_error")),
        star_pm_err_max=max(hi("pmra_error"), hi("pmdec_error")),
        radio_span_max=nanmax(radio[SPAN_COLUMN]) if SPAN_COLUMN in radio else 0.0,
        star_parallax_max=max(meta.get("parallax", (0.0, 0.0))[1], 0.0),
    )


def with_neighbours(pixels: np.ndarray, order: int) -> np.ndarray:
    """The pixels and their neighbours (nested, `order`), sorted, once each."""
    from cdshealpix import nested

    pix = np.unique(np.asarray(pixels, dtype=np.int64))
    if pix.size == 0:
        return pix
    nb = nested.neighbours(pix.astype(np.uint64), order, num_threads=1).astype(np.int64).ravel()
    return np.unique(np.concatenate([pix, nb[nb >= 0]]))


def coverage(replica_keys: np.ndarray, join_order: int, density_order: int, margin_arcsec: float = 0.0
             ) -> tuple[int, np.ndarray]:
    """Pixels (order, sorted array) whose stars the job needs: matching (slow and fast stars) and density.

    The pixels of the replicas plus their neighbours, at an order coarse enough that one neighbour ring is
    wider than twice `margin_arcsec` (the fast movers' reach) and than a density neighbourhood."""
    order = min(join_order, density_order)
    while order > MIN_JOIN_ORDER and pixel_size_arcsec(order) < 2 * margin_arcsec:
        order -= 1
    pix = with_neighbours(np.asarray(replica_keys, dtype=np.int64) >> (2 * (join_order - order)), order)
    while order > 0 and len(fine_ranges(pix, order)) > MAX_RANGES:
        order -= 1
        pix = np.unique(pix >> 2)
    return order, pix


def pixel_ranges(order: int, pixels: np.ndarray) -> np.ndarray:
    """The pixels' fine healpix ranges, (n, 2) int64 (star_chunks.overlaps)."""
    return np.array(fine_ranges(pixels, order), dtype=np.int64).reshape(-1, 2)
