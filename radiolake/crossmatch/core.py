"""The cross-match plan and its single-process numpy execution.

`plan_match` turns the user's criteria and a few catalogue statistics into the search bound, the reach
(bound + largest proper-motion displacement) and the HEALPix join order. `crossmatch_frames` runs the very
same partitioned algorithm as the Spark job (replicas, join keys, `match_chunk`, rank, density, offsets) in
one process: it is the reference the Spark job is tested against and the engine of the property tests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from radiolake.crossmatch.associate import associate_frame, priors_from_frames
from radiolake.crossmatch.density import (
    DEFAULT_DENSITY_ORDER,
    density_from_counts,
    neighbourhood,
    p_chance,
    star_counts,
)
from radiolake.crossmatch.offsets import (
    DEFAULT_OFFSET_ARCMIN,
    DEFAULT_REGION_ORDER,
    offset_position,
    offset_stats_frame,
    region_pixels,
)
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, MatchCriteria, match_chunk
from radiolake.crossmatch.partitioning import (
    DEFAULT_MAX_JOIN_ORDER,
    MIN_JOIN_ORDER,
    PIXEL_TO_REACH,
    choose_join_order,
    home_pixels,
    pixel_size_arcsec,
    radio_replicas,
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
    radio_err_max: float  # arcsec, largest ra_error or dec_error
    star_err_max: float  # arcsec
    star_pm_err_max: float  # mas/yr

    @property
    def max_abs_dt(self) -> float:
        if self.n_radio == 0 or self.n_stars == 0:
            return 0.0
        return max(abs(self.radio_epoch_max - self.star_epoch_min), abs(self.star_epoch_max - self.radio_epoch_min))


@dataclass(frozen=True)
class MatchPlan:
    criteria: MatchCriteria
    reach_arcsec: float  # search bound + largest star displacement: how far a radio cone must reach
    join_order: int
    max_displacement_arcsec: float


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
        radio_err_max=max(_nanmax(radio["ra_error"]), _nanmax(radio["dec_error"])),
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
    reach = search + displacement
    if join_order is None:
        join_order = choose_join_order(reach, max_join_order)
    elif join_order < MIN_JOIN_ORDER:
        raise ValueError(f"join order must be >= {MIN_JOIN_ORDER}, got {join_order}")
    elif pixel_size_arcsec(join_order) < PIXEL_TO_REACH * reach:
        raise ValueError(
            f"join order {join_order} is too fine for a reach of {reach:.1f} arcsec "
            f"(pixels must be {PIXEL_TO_REACH:.0f}x larger); use <= {choose_join_order(reach, 29)}"
        )
    return MatchPlan(criteria, reach, join_order, displacement)


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df:
        return np.full(len(df), np.nan)
    return df[name].to_numpy(np.float64, na_value=np.nan)


def star_arrays(stars: pd.DataFrame, join_order: int) -> dict[str, np.ndarray]:
    """Star columns as float arrays plus the join key (from the canonical fine `healpix`)."""
    if "healpix" in stars:
        key = star_keys_from_healpix(stars["healpix"].to_numpy(np.int64), join_order)
    else:
        key = home_pixels(_col(stars, "ra"), _col(stars, "dec"), join_order)
    out = {
        c: _col(stars, c)
        for c in ("ra", "dec", "epoch", "pmra", "pmdec", "ra_error", "dec_error", "pmra_error", "pmdec_error")
    }
    out["key"] = key
    return out


def radio_replica_arrays(
    radio: pd.DataFrame, plan: MatchPlan, n_offsets: int, offset_arcmin: float, region_order: int
) -> dict[str, np.ndarray]:
    """Radio rows of the real sky (offset 0) and the offset skies, replicated to every key they reach."""
    ra, dec = _col(radio, "ra"), _col(radio, "dec")
    region = region_pixels(ra, dec, region_order)
    parts = []
    for offset in range(n_offsets + 1):
        ora, odec = offset_position(ra, dec, offset, n_offsets, offset_arcmin)
        rows, keys = radio_replicas(ora, odec, plan.reach_arcsec, plan.join_order)
        parts.append(
            {
                "row": rows,
                "key": keys,
                "offset": np.full(rows.size, offset, np.int32),
                "ra": ora[rows],
                "dec": odec[rows],
            }
        )
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    for c in ("epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS):
        out[c] = _col(radio, c)[out["row"]]
    out["region"] = region[out["row"]]
    return out


def rank_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """rank 1 = nearest star of each radio source; ties broken by star_id so ranks are deterministic."""
    pairs = pairs.sort_values(["radio_id", "separation_arcsec", "star_id"], kind="stable").reset_index(drop=True)
    pairs["rank"] = (pairs.groupby("radio_id").cumcount() + 1).astype(np.int32)
    return pairs


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
) -> dict[str, pd.DataFrame]:
    """Cross-match two canonical catalogues in memory: {'pairs', 'best', 'offset_stats'} frames."""
    plan = plan_match(stats_from_frames(radio, stars), radius_arcsec, n_sigma, join_order)
    rep = radio_replica_arrays(radio, plan, n_offsets, offset_arcmin, region_order)
    star = star_arrays(stars, plan.join_order)
    res = match_chunk(rep, star, plan.criteria)
    radio_ids = radio["source_id"].to_numpy(object)
    star_ids = stars["source_id"].to_numpy(object)
    ridx = rep["row"][res["radio_idx"]]
    offset = rep["offset"][res["radio_idx"]]
    found = pd.DataFrame(
        {
            "offset": offset,
            "radio_id": radio_ids[ridx],
            "star_id": star_ids[res["star_idx"]],
            "separation_arcsec": res["separation_arcsec"],
            "separation_sigma": res["separation_sigma"],
            "combined_error_arcsec": res["combined_error_arcsec"],
            "dt_years": res["dt_years"],
            "pm_applied": res["pm_applied"],
            "star_ra_at_epoch": res["star_ra_at_epoch"],
            "star_dec_at_epoch": res["star_dec_at_epoch"],
            "radio_row": ridx,
        }
    )
    real = rank_pairs(found.loc[found["offset"] == 0].drop(columns="offset"))
    pix, counts = star_counts(_col(stars, "ra"), _col(stars, "dec"), density_order)
    nb = neighbourhood(_col(radio, "ra"), _col(radio, "dec"), density_order)
    density = density_from_counts(nb, pix, counts, density_order)
    real["star_density_deg2"] = density[real["radio_row"].to_numpy(np.int64)]
    real["p_chance"] = p_chance(real["separation_arcsec"].to_numpy(), real["star_density_deg2"].to_numpy())
    real["run_id"] = run_id
    if k_nearest is not None:
        real = real.loc[real["rank"] <= k_nearest]
    regions = pd.Series(region_pixels(_col(radio, "ra"), _col(radio, "dec"), region_order), index=radio_ids)
    stats = offset_stats_frame(
        found.loc[found["offset"] > 0], regions, n_offsets, plan.criteria.search_arcsec, region_order, run_id
    )
    scales = error_scale(*(_col(radio, c) for c in ("ra_error", "dec_error", *ELLIPSE_COLUMNS)))
    real["radio_error_scale"] = scales[real["radio_row"].to_numpy(np.int64)]
    priors = priors_from_frames(
        radio_ids, scales, real["radio_id"].to_numpy(object), found.loc[found["offset"] > 0], n_offsets
    )
    pairs = associate_frame(real, priors)[PAIRS_SCHEMA.names].reset_index(drop=True)
    return {
        "pairs": pairs,
        "best": pairs.loc[pairs["rank"] == 1].reset_index(drop=True),
        "offset_stats": stats,
        "plan": plan,
        "priors": priors,
    }
