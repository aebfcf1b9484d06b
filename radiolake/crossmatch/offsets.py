"""False-association rate from offset skies.

The radio catalogue is shifted as a whole by `offset_arcmin` in N directions (evenly spread position
angles). Any star matched to a shifted source is a chance match, so the number of shifted sources with a
match, averaged over the N skies, estimates how many real matches are false, per radius and sky region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiolake.crossmatch.partitioning import home_pixels
from radiolake.crossmatch.sky import offset_sky_position as offset_position  # noqa: F401 (re-exported)

DEFAULT_OFFSET_ARCMIN = 3.0
DEFAULT_REGION_ORDER = 3
RADIUS_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
OFFSET_STATS_COLUMNS = ["run_id", "region_order", "region_pixel", "radius_arcsec", "n_offsets", "n_radio",
                        "false_matches_total", "expected_false_matches"]


def radius_grid(search_arcsec: float) -> list[float]:
    """Radii at which the false-match count is reported: fractions of the search bound."""
    return [round(f * search_arcsec, 9) for f in RADIUS_FRACTIONS]


def region_pixels(ra_deg: np.ndarray, dec_deg: np.ndarray, region_order: int) -> np.ndarray:
    return home_pixels(ra_deg, dec_deg, region_order)


def offset_stats_row(run_id: str, region_order: int, region: int, radius: float, n_offsets: int, n_radio: int,
                     false_matches_total: int) -> dict:
    """One OFFSET_STATS_SCHEMA row: the numpy core and the Spark job build them the same way."""
    return {
        "run_id": run_id,
        "region_order": region_order,
        "region_pixel": int(region),
        "radius_arcsec": radius,
        "n_offsets": n_offsets,
        "n_radio": int(n_radio),
        "false_matches_total": false_matches_total,
        "expected_false_matches": false_matches_total / n_offsets if n_offsets else 0.0,
    }


def nearest_per_source(offset: np.ndarray, row: np.ndarray, sep: np.ndarray, n_rows: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(row, nearest separation) per distinct (offset sky, row) of the offset skies' pairs: one chance match
    per shifted source, however many stars it found. Integer keys and numpy: millions of pairs at survey scale."""
    key = np.asarray(offset, np.int64) * max(n_rows, 1) + np.asarray(row, np.int64)
    uniq, inv = np.unique(key, return_inverse=True)
    nearest = np.full(uniq.size, np.inf)
    np.minimum.at(nearest, inv.ravel(), np.asarray(sep, dtype=np.float64))
    return uniq % max(n_rows, 1), nearest


def offset_stats_from_rows(
    offset: np.ndarray,
    row: np.ndarray,
    sep: np.ndarray,
    row_regions: np.ndarray,
    n_offsets: int,
    search_arcsec: float,
    region_order: int,
    run_id: str,
) -> pd.DataFrame:
    """OFFSET_STATS rows from the offset skies' pairs by radio row (offset >= 1, row, separation), given the
    region pixel of every real radio row."""
    row_regions = np.asarray(row_regions, dtype=np.int64)
    n_radio = pd.Series(row_regions).value_counts()
    rows, nearest = nearest_per_source(offset, row, sep, row_regions.size)
    region = row_regions[rows]
    out = []
    for radius in radius_grid(search_arcsec):
        hit, counts = np.unique(region[nearest <= radius], return_counts=True)
        found = dict(zip(hit.tolist(), counts.tolist(), strict=True))
        for reg, n in n_radio.items():
            out.append(offset_stats_row(run_id, region_order, reg, radius, n_offsets, n, int(found.get(reg, 0))))
    return pd.DataFrame(out, columns=OFFSET_STATS_COLUMNS)


def offset_stats_frame(
    offset_pairs: pd.DataFrame,
    radio_regions: pd.Series,
    n_offsets: int,
    search_arcsec: float,
    region_order: int,
    run_id: str,
) -> pd.DataFrame:
    """OFFSET_STATS rows from the pairs of the offset skies (pandas form of `offset_stats_from_rows`).

    offset_pairs: columns offset, radio_id, separation_arcsec (offset >= 1 only).
    radio_regions: region pixel of every real radio source, indexed by radio_id.
    """
    row = radio_regions.index.get_indexer(offset_pairs["radio_id"])
    known = row >= 0  # a pair of an unknown source counts in no region
    return offset_stats_from_rows(
        offset_pairs["offset"].to_numpy(np.int64)[known],
        row[known],
        offset_pairs["separation_arcsec"].to_numpy(np.float64)[known],
        radio_regions.to_numpy(np.int64),
        n_offsets,
        search_arcsec,
        region_order,
        run_id,
    )
