"""The cross-match plan and its single-process numpy execution.

`plan_match` turns the user's criteria and a few catalogue statistics into the search bound, the reach
(bound + largest displacement of a *slow* star) and the HEALPix join order. `crossmatch_frames` runs the very
same engine as the Spark job (radio skies and replicas, star chunks, fast movers apart, then
`assemble_results`: rank, density, offsets, association) in one process: it is the reference the Spark job is tested
against and the engine of the property tests.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from radiolake.crossmatch.associate import Priors, associate_frame, priors_from_rows
from radiolake.crossmatch.density import (
    DEFAULT_DENSITY_ORDER,
    density_from_counts,
    neighbourhood,
    p_chance,
    star_counts,
)
from radiolake.crossmatch.engine import STAR_MATCH_COLUMNS, RadioSkies, match_fast_stars, match_star_chunk
from radiolake.crossmatch.offsets import (
    DEFAULT_OFFSET_ARCMIN,
    DEFAULT_REGION_ORDER,
    offset_stats_frame,
    region_pixels,
)
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, MatchCriteria, empty_result
from radiolake.crossmatch.partitioning import (
    DEFAULT_MAX_JOIN_ORDER,
    MIN_JOIN_ORDER,
    PIXEL_TO_REACH,
    choose_join_order,
    home_pixels,
    pixel_size_arcsec,
    star_keys_from_healpix,
)
from radiolake.crossmatch.positional_errors import error_scale
from radiolake.results import PAIRS_SCHEMA


@dataclass(frozen=True)
class CatalogueStats:
    """What the plan needs to know about the inputs (one aggregate pass over each catalogue)."""

    n_radio: int
    n_stars: int
    radio_epoch_min: float
    radio_epoch_max: float
    star_epoch_min: float
    star_epoch_max: float
    star_pm_max: float  # mas/yr, total proper motion
    radio_err_max: float  # arcsec, largest ra_error, dec_error or error-ellipse major axis
    star_err_max: float  # arcsec
    star_pm_err_max: float  # mas/yr

    @property
    def max_abs_dt(self) -> float:
        if self.n_radio == 0 or self.n_stars == 0:
            return 0.0
        return max(abs(self.radio_epoch_max - self.star_epoch_min), abs(self.star_epoch_max - self.radio_epoch_min))


#: Stars that can move further than this (or than the search bound, if larger) between their epoch and a
#: radio epoch are "fast": they get their own star-side search, so the partitioning ignores them.
SLOW_LIMIT_ARCSEC = 10.0


@dataclass(frozen=True)
class MatchPlan:
    criteria: MatchCriteria
    reach_arcsec: float  # search bound + largest slow-star displacement: how far a radio cone must reach
    join_order: int
    max_displacement_arcsec: float  # of any star (fast ones included)
    slow_limit_arcsec: float  # stars moving further are matched by the fast movers' own search


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
    )


def plan_match(
    stats: CatalogueStats,
    radius_arcsec: float | None,
    n_sigma: float | None,
    join_order: int | None = None,
    max_join_order: int = DEFAULT_MAX_JOIN_ORDER,
) -> MatchPlan:
    """Search bound, reach and join order for these inputs; raises ValueError on unusable parameters."""
    max_dt = stats.max_abs_dt
    if radius_arcsec is not None:
        search = float(radius_arcsec)
    elif n_sigma is not None:
        star_err = math.hypot(stats.star_err_max, stats.star_pm_err_max * max_dt / 1000.0)
        search = float(n_sigma) * math.hypot(stats.radio_err_max, star_err)
    else:
        raise ValueError("give a radius (arcsec), an n-sigma limit, or both")
    criteria = MatchCriteria(radius_arcsec, n_sigma, search)
    displacement = stats.star_pm_max * max_dt / 1000.0
    slow_limit = max(search, SLOW_LIMIT_ARCSEC)
    reach = search + min(displacement, slow_limit)
    if join_order is None:
        join_order = choose_join_order(reach, max_join_order)
    elif join_order < MIN_JOIN_ORDER:
        raise ValueError(f"join order must be >= {MIN_JOIN_ORDER}, got {join_order}")
    elif pixel_size_arcsec(join_order) < PIXEL_TO_REACH * reach:
        raise ValueError(
            f"join order {join_order} is too fine for a reach of {reach:.1f} arcsec "
            f"(pixels must be {PIXEL_TO_REACH:.0f}x larger); use <= {choose_join_order(reach, 29)}"
        )
    return MatchPlan(criteria, reach, join_order, displacement, slow_limit)


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return df[name].to_numpy(np.float64, na_value=np.nan)


def radio_arrays(radio: pd.DataFrame) -> dict[str, np.ndarray]:
    """The radio columns the engine needs, as float arrays (NaN where unknown): position, epoch, errors and
    the error ellipse."""
    return {c: _col(radio, c) for c in ("ra", "dec", "epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS)}


def star_arrays(stars: pd.DataFrame, join_order: int) -> dict[str, np.ndarray]:
    """Star columns as float arrays plus the join key (from the canonical fine `healpix`)."""
    if "healpix" in stars:
        key = star_keys_from_healpix(stars["healpix"].to_numpy(np.int64), join_order)
    else:
        key = home_pixels(_col(stars, "ra"), _col(stars, "dec"), join_order)
    out = {c: _col(stars, c) for c in STAR_MATCH_COLUMNS}
    out["key"] = key
    return out


#: Columns of the engine's raw pair list (real and offset skies), before ranking and density.
FOUND_COLUMNS = (
    "offset",
    "radio_row",
    "star_id",
    "separation_arcsec",
    "separation_sigma",
    "combined_error_arcsec",
    "dt_years",
    "pm_applied",
    "star_ra_at_epoch",
    "star_dec_at_epoch",
)


def found_frame(res: dict[str, np.ndarray], n_radio: int, star_ids: np.ndarray) -> pd.DataFrame:
    """Engine result (sky rows, star ids of the pairs) -> a FOUND_COLUMNS frame."""
    sky = np.asarray(res["sky"], dtype=np.int64)
    return pd.DataFrame(
        {
            "offset": (sky // max(n_radio, 1)).astype(np.int32),
            "radio_row": sky % max(n_radio, 1),
            "star_id": star_ids,
            "separation_arcsec": res["separation_arcsec"],
            "separation_sigma": res["separation_sigma"],
            "combined_error_arcsec": res["combined_error_arcsec"],
            "dt_years": res["dt_years"],
            "pm_applied": res["pm_applied"],
            "star_ra_at_epoch": res["star_ra_at_epoch"],
            "star_dec_at_epoch": res["star_dec_at_epoch"],
        },
        columns=list(FOUND_COLUMNS),
    )


def concat_results(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    if not parts:
        out = empty_result()
        out["sky"] = out.pop("radio_idx")
        return out
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def rank_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """rank 1 = nearest star of each radio source; ties broken by star_id so ranks are deterministic.

    Sorted on integers and floats (radio_row, separation); only exact separation ties compare star ids."""
    group = pairs["radio_row"].to_numpy(np.int64) if "radio_row" in pairs else pd.factorize(pairs["radio_id"])[0]
    sep = pairs["separation_arcsec"].to_numpy(np.float64)
    order = np.lexsort((sep, group))
    g, s = group[order], sep[order]
    tie = np.flatnonzero((g[1:] == g[:-1]) & (s[1:] == s[:-1]))
    if tie.size:
        ids = pairs["star_id"].to_numpy(object)
        starts = tie[np.r_[True, np.diff(tie) > 1]]
        for a in starts:
            b = a + 1
            while b < g.size and g[b] == g[a] and s[b] == s[a]:
                b += 1
            block = order[a:b]
            order[a:b] = block[np.argsort(ids[block].astype(str), kind="stable")]
            g, s = group[order], sep[order]
    pairs = pairs.iloc[order].reset_index(drop=True)
    g = group[order]
    first = np.r_[True, g[1:] != g[:-1]] if g.size else np.zeros(0, bool)
    start_idx = np.maximum.accumulate(np.where(first, np.arange(g.size), 0)) if g.size else np.zeros(0, np.int64)
    pairs["rank"] = (np.arange(g.size) - start_idx + 1).astype(np.int32)
    return pairs


def finalize_pairs(
    real: pd.DataFrame,
    density_deg2: np.ndarray,
    radio_error_scale: np.ndarray,
    priors: Priors,
    k_nearest: int | None,
    run_id: str,
) -> pd.DataFrame:
    """The per-pair post-processing of the real sky's pairs, in one place: rank, local density, p_chance,
    k-nearest cut, then the association step over the final pairs (likelihood ratio and posterior, each
    radio source's prior picked by its error scale). `real` has FOUND_COLUMNS (offset 0) plus radio_id;
    `density_deg2` and `radio_error_scale` are per row of `real`."""
    real = real.assign(star_density_deg2=density_deg2, radio_error_scale=radio_error_scale)
    real = rank_pairs(real)
    real["p_chance"] = p_chance(real["separation_arcsec"].to_numpy(), real["star_density_deg2"].to_numpy())
    real["run_id"] = run_id
    if k_nearest is not None:
        real = real.loc[real["rank"] <= k_nearest]
    return associate_frame(real, priors)[PAIRS_SCHEMA.names].reset_index(drop=True)


def assemble_results(
    found: pd.DataFrame,
    radio_ids: np.ndarray,
    radio: Mapping[str, np.ndarray],
    star_density_counts: tuple[np.ndarray, np.ndarray],
    plan: MatchPlan,
    *,
    n_offsets: int,
    k_nearest: int | None,
    density_order: int,
    region_order: int,
    run_id: str,
) -> dict[str, Any]:
    """Result tables from the engine's raw pairs: pairs, best, offset_stats, and the association priors
    (shared by core and Spark job).

    radio: per radio row, ra, dec and the positional-error columns (ra_error, dec_error, ELLIPSE_COLUMNS); their
    error scale det(C)^(1/4) (`positional_errors.error_scale`; NaN: unknown) picks the row's prior class.
    star_density_counts: sorted (pixel at density_order, valid
    stars in it), over at least every pixel next to a matched radio source."""
    radio_ra, radio_dec = radio["ra"], radio["dec"]
    radio_error_scale = error_scale(*(radio[c] for c in ("ra_error", "dec_error", *ELLIPSE_COLUMNS)))
    real = found.loc[found["offset"] == 0]
    rows = real["radio_row"].to_numpy(np.int64)
    matched, inverse = np.unique(rows, return_inverse=True)
    nb = neighbourhood(radio_ra[matched], radio_dec[matched], density_order)
    density = density_from_counts(nb, *star_density_counts, density_order)[inverse.ravel()]
    offset_pairs = found.loc[found["offset"] > 0]
    offset_rows = offset_pairs["radio_row"].to_numpy(np.int64)
    priors = priors_from_rows(
        radio_error_scale, matched, offset_pairs["offset"].to_numpy(np.int64), offset_rows, n_offsets
    )
    pairs = finalize_pairs(
        real.assign(radio_id=radio_ids[rows]), density, radio_error_scale[rows], priors, k_nearest, run_id
    )
    # integer radio ids (rows) for the offset statistics: grouping 1 M strings would cost seconds
    regions = pd.Series(region_pixels(radio_ra, radio_dec, region_order))
    offset_pairs = offset_pairs.assign(radio_id=offset_rows)
    stats = offset_stats_frame(offset_pairs, regions, n_offsets, plan.criteria.search_arcsec, region_order, run_id)
    return {
        "pairs": pairs,
        "best": pairs.loc[pairs["rank"] == 1].reset_index(drop=True),
        "offset_stats": stats,
        "priors": priors,
    }


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
    res = concat_results(parts)
    star_ids = stars["source_id"].to_numpy(object)
    found = found_frame(res, len(radio), star_ids[res["star_idx"]])
    counts = star_counts(_col(stars, "ra"), _col(stars, "dec"), density_order)
    out = assemble_results(
        found,
        radio["source_id"].to_numpy(object),
        radio_cols,
        counts,
        plan,
        n_offsets=n_offsets,
        k_nearest=k_nearest,
        density_order=density_order,
        region_order=region_order,
        run_id=run_id,
    )
    return {**out, "plan": plan}
