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


def offset_stats_frame(
    offset_pairs: pd.DataFrame,
    radio_regions: pd.Series,
    n_offsets: int,
    search_arcsec: float,
    region_order: int,
    run_id: str,
) -> pd.DataFrame:
    """OFFSET_STATS rows from the pairs of the offset skies.

    offset_pairs: columns offset, radio_id, separation_arcsec (offset >= 1 only).
    radio_regions: region pixel of every real radio source, indexed by radio_id.
    """
    n_radio = radio_regions.value_counts()
    nearest = offset_pairs.groupby(["offset", "radio_id"])["separation_arcsec"].min().reset_index()
    nearest["region_pixel"] = radio_regions.reindex(nearest["radio_id"]).to_numpy()
    rows = []
    for radius in radius_grid(search_arcsec):
        counts = nearest.loc[nearest["separation_arcsec"] <= radius].groupby("region_pixel").size()
        for region, n in n_radio.items():
            total = int(counts.get(region, 0))
            rows.append(offset_stats_row(run_id, region_order, region, radius, n_offsets, n, total))
    return pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "region_order",
            "region_pixel",
            "radius_arcsec",
            "n_offsets",
            "n_radio",
            "false_matches_total",
            "expected_false_matches",
        ],
    )
