"""The cross-match's single-process numpy execution (the plan itself is plan.py).

`crossmatch_frames` runs the very
same engine as the Spark job (radio skies and replicas, star chunks, fast movers apart, then
`assemble.assemble_tables`: rank, density, offsets, association) in one process: it is the reference the Spark
job is tested against and the engine of the property tests.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from radiolake.crossmatch.assemble import assemble_tables
from radiolake.crossmatch.density import DEFAULT_DENSITY_ORDER, class_counts
from radiolake.crossmatch.engine import (
    STAR_MATCH_COLUMNS,
    RadioSkies,
    match_fast_stars,
    match_star_chunk,
    split_skies,
)
from radiolake.crossmatch.offsets import (
    DEFAULT_OFFSET_ARCMIN,
    DEFAULT_REGION_ORDER,
)
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, SPAN_COLUMN, empty_result
from radiolake.crossmatch.partitioning import (
    home_pixels,
    star_keys_from_healpix,
)
from radiolake.crossmatch.plan import CatalogueStats, plan_match
from radiolake.crossmatch.populations import classes_of


def _nanmax(values) -> float:
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    return float(arr.max()) if arr.size else 0.0


def stats_from_frames(radio: pd.DataFrame, stars: pd.DataFrame) -> CatalogueStats:
    pm = np.hypot(
        stars["pmra"].to_numpy(np.float64, na_value=np.nan), stars["pmdec"].to_numpy(np.float64, na_value=np.nan)
    )
    pm_err = [stars[c].to_numpy(np.float64, na_value=np.nan) for c in ("pmra_error", "pmdec_error") if c in stars]
    return CatalogueStats(
        n_radio=len(radio),
        n_stars=len(stars),
        radio_epoch_min=_nanmax(-radio["epoch"]) * -1 if len(radio) else 0.0,
        radio_epoch_max=_nanmax(radio["epoch"]),
        star_epoch_min=_nanmax(-stars["epoch"]) * -1 if len(stars) else 0.0,
        star_epoch_max=_nanmax(stars["epoch"]),
        star_pm_max=_nanmax(pm),
        radio_err_max=max(_nanmax(_col(radio, c)) for c in ("ra_error", "dec_error", "pos_err_major")),
        star_err_max=max(_nanmax(stars["ra_error"]), _nanmax(stars["dec_error"])),
        star_pm_err_max=max([_nanmax(a) for a in pm_err], default=0.0),
        radio_span_max=_nanmax(_col(radio, SPAN_COLUMN)),
        star_parallax_max=_nanmax(_col(stars, "parallax")),
    )


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return df[name].to_numpy(np.float64, na_value=np.nan)


def radio_arrays(radio: pd.DataFrame) -> dict[str, np.ndarray]:
    """The radio columns the engine needs, as float arrays (NaN where unknown): position, epoch, errors and
    the error ellipse."""
    return {c: _col(radio, c) for c in ("ra", "dec", "epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS, SPAN_COLUMN)}


def star_arrays(stars: pd.DataFrame, join_order: int) -> dict[str, np.ndarray]:
    """Star columns as float arrays plus the join key (from the canonical fine `healpix`)."""
    if "healpix" in stars:
        key = star_keys_from_healpix(stars["healpix"].to_numpy(np.int64), join_order)
    else:
        key = home_pixels(_col(stars, "ra"), _col(stars, "dec"), join_order)
    out = {c: _col(stars, c) for c in STAR_MATCH_COLUMNS}
    out["key"] = key
    return out


def concat_results(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        out = empty_result()
        out["sky"] = out.pop("radio_idx")
        out["star_class"] = np.zeros(0, np.int8)
        return out
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def crossmatch_frames(
    radio: pd.DataFrame,
    stars: pd.DataFrame,
    radius_arcsec: float | None = None,
    n_sigma: float | None = None,
    *,
    n_offsets: int = 0,
    offset_arcmin: float = DEFAULT_OFFSET_ARCMIN,
    k_nearest: int | None = None,
    density_order: int = DEFAULT_DENSITY_ORDER,
    region_order: int = DEFAULT_REGION_ORDER,
    join_order: int | None = None,
    run_id: str = "local",
) -> dict[str, Any]:
    """Cross-match two canonical catalogues in memory: {'pairs', 'best', 'offset_stats', 'priors', 'plan'}.

    The engine of the Spark job in one process, with the finest chunking it allows: one chunk of stars per
    join pixel, each matched against the radio rows that reach it, fast movers apart."""
    plan = plan_match(stats_from_frames(radio, stars), radius_arcsec, n_sigma, join_order)
    radio_cols = radio_arrays(radio)
    skies = RadioSkies.build(radio_cols, plan.reach_arcsec, plan.join_order, n_offsets, offset_arcmin)
    star = star_arrays(stars, plan.join_order)
    order = np.argsort(star["key"], kind="stable")
    keys = star["key"][order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.zeros(0, np.int64)
    parts, fast = [], []
    for a, b in zip(starts, np.r_[starts[1:], keys.size], strict=True):
        idx = order[a:b]
        if n_offsets:
            box = (star["ra"][idx].min(), star["ra"][idx].max(), star["dec"][idx].min(), star["dec"][idx].max())
            chunk_radio = skies.radio.arrays(skies.rows_for_chunk(None, None, (box,)))
        else:
            chunk_radio = skies.radio.arrays(skies.rows_for_keys(keys[a], keys[a]))
        res, f = match_star_chunk(
            {c: star[c][idx] for c in STAR_MATCH_COLUMNS},
            chunk_radio,
            plan.criteria,
            skies.epoch_range,
            plan.slow_limit_arcsec,
        )
        res["star_idx"] = idx[res["star_idx"]]
        parts.append(res)
        fast.append(idx[f])
    fast_idx = np.concatenate(fast) if fast else np.zeros(0, np.int64)
    res = match_fast_stars({c: star[c][fast_idx] for c in STAR_MATCH_COLUMNS}, skies, plan.criteria)
    res["star_idx"] = fast_idx[res["star_idx"]]
    parts.append(res)
    res, off = split_skies(concat_results(parts), skies.n_radio)
    star_ids = pa.array(stars["source_id"].to_numpy(object)).take(pa.array(res.pop("star_idx")))
    counts = class_counts(home_pixels(star["ra"], star["dec"], density_order), classes_of(star, len(stars)))
    out = assemble_tables(
        res,
        star_ids,
        pa.array(radio["source_id"].to_numpy(object)),
        radio_cols,
        counts,
        plan,
        offset_pairs=off,
        n_offsets=n_offsets,
        k_nearest=k_nearest,
        density_order=density_order,
        region_order=region_order,
        run_id=run_id,
    )
    out["pairs"], out["best"] = out["pairs"].to_pandas(), out["best"].to_pandas()
    return {**out, "plan": plan}
