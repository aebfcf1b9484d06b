"""The cross-match plan: from the user's criteria and a few statistics of the inputs, the search bound, the
reach (bound + largest displacement of a *slow* star), the HEALPix join order and the fast movers' limit.

Below the driver and the result assembly (both read a MatchPlan), above the kernels: it imports no driver code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from radiolake.crossmatch.pairs import MatchCriteria
from radiolake.crossmatch.partitioning import (
    DEFAULT_MAX_JOIN_ORDER,
    MIN_JOIN_ORDER,
    PIXEL_TO_REACH,
    choose_join_order,
    pixel_size_arcsec,
)
from radiolake.surveys.motion import max_displacement_arcsec


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
    radio_span_max: float = 0.0  # years: the longest survey span a radio row's date is only known within
    star_parallax_max: float = 0.0  # mas: bounds the parallactic displacement

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


def plan_match(
    stats: CatalogueStats,
    radius_arcsec: float | None,
    n_sigma: float | None,
    join_order: int | None = None,
    max_join_order: int = DEFAULT_MAX_JOIN_ORDER,
) -> MatchPlan:
    """Search bound, reach and join order for these inputs; raises ValueError on unusable parameters."""
    max_dt = stats.max_abs_dt
    if radius_arcsec is None and n_sigma is None:
        raise ValueError("give a radius (arcsec), an n-sigma limit, or both")
    search = math.inf
    if n_sigma is not None:
        # sqrt of the largest eigenvalue of any pair's combined covariance bounds its offset per sigma
        star_err = math.hypot(stats.star_err_max, stats.star_pm_err_max * max_dt / 1000.0)
        span_err = stats.star_pm_max * stats.radio_span_max / math.sqrt(12.0) / 1000.0
        search = float(n_sigma) * math.hypot(stats.radio_err_max, star_err, span_err)
    if radius_arcsec is not None:
        search = min(search, float(radius_arcsec))
    criteria = MatchCriteria(radius_arcsec, n_sigma, search)
    displacement = max_displacement_arcsec(stats.star_pm_max, max_dt, stats.star_parallax_max)
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
