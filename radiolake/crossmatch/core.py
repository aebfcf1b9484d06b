"""The cross-match in this process, for DataFrames: the one driver (driver.py) on the map executor.

`crossmatch_frames` writes the two frames as canonical Parquet (user_input.canonical_table: string ids,
float64 numbers, the stars' `healpix`, sorted by it) into a temporary folder and runs the very same driver
as the CLI and the DAGs (plan from footers, star chunks, tasks, quarantine, fast movers, `assemble_tables`)
with `executors.MapExecutor`: tests, the science demo and notebooks exercise the production path, not a copy
of it. Invalid rows are quarantined, as on Spark (`["quarantine"]`).
"""

from __future__ import annotations

import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radiolake.crossmatch.driver import run_crossmatch
from radiolake.crossmatch.executors import MapExecutor
from radiolake.crossmatch.match_config import MatchConfig, RunLabels
from radiolake.crossmatch.user_input import ROW_GROUP_ROWS, canonical_table

#: The keyword arguments crossmatch_frames passes on to MatchConfig.
CONFIG_FIELDS = frozenset(f.name for f in fields(MatchConfig))


def write_frames(radio: pd.DataFrame, stars: pd.DataFrame, folder: Path) -> tuple[str, str]:
    """The frames as canonical Parquet files in `folder` (stars sorted by healpix, in row groups as ingest
    writes them): (radio location, stars location)."""
    radio_tbl = canonical_table(pa.Table.from_pandas(radio, preserve_index=False), "radio", "radio")
    star_tbl = canonical_table(pa.Table.from_pandas(stars, preserve_index=False), "stars", "stars")
    star_tbl = star_tbl.sort_by([("healpix", "ascending")])
    pq.write_table(radio_tbl, folder / "radio.parquet")
    pq.write_table(star_tbl, folder / "stars.parquet", row_group_size=ROW_GROUP_ROWS)
    return str(folder / "radio.parquet"), str(folder / "stars.parquet")


def crossmatch_frames(
    radio: pd.DataFrame,
    stars: pd.DataFrame,
    radius_arcsec: float | None = None,
    n_sigma: float | None = None,
    *,
    run_id: str = "local",
    **options: Any,
) -> dict[str, Any]:
    """Cross-match two catalogues given as DataFrames, in this process: {'pairs', 'best' (pandas),
    'offset_stats', 'priors', 'quarantine', 'plan', 'summary'}. `options`: the other MatchConfig fields
    (n_offsets, offset_arcmin, k_nearest, density_order, region_order, join_order, chunk_rows, kernel...)."""
    unknown = set(options) - CONFIG_FIELDS
    if unknown:
        raise TypeError(f"crossmatch_frames got unknown option(s) {sorted(unknown)}")
    config = MatchConfig(radius_arcsec=radius_arcsec, n_sigma=n_sigma, **options)
    with tempfile.TemporaryDirectory(prefix="radiolake-frames-") as tmp:
        radio_at, stars_at = write_frames(radio, stars, Path(tmp))
        result = run_crossmatch(MapExecutor(), radio_at, stars_at, None, config, RunLabels(run_id=run_id))
    out = dict(result.tables)
    out["pairs"], out["best"] = out["pairs"].to_pandas(), out["best"].to_pandas()
    return {**out, "plan": result.plan, "summary": result.summary}
