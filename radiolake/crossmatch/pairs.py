"""What a match is: the exact test of candidate (radio, star) pairs, common to every kernel (kernels.py).

A kernel finds candidates (a superset); `evaluate_pairs` then moves each candidate star to that radio row's
own epoch (proper motion, parallax) and the exact separation and its significance against the combined
error decide (`MatchCriteria`). Also the columns a chunk carries and the empty result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from radiolake.crossmatch.epochs import apply_parallax, has_proper_motion, propagate_xyz, star_error_at_epoch
from radiolake.crossmatch.sky import (
    ARCSEC_PER_RAD,
    radec_to_xyz,
    separation_rad,
    tangent_offsets_arcsec,
    xyz_to_radec,
)
from radiolake.surveys.positional_errors import (
    combined_covariance,
    motion_covariance,
    offset_significance,
    radio_covariance,
    search_fraction,
)

#: Columns a radio chunk must carry (numpy arrays of one length); it may also carry ELLIPSE_COLUMNS.
RADIO_COLUMNS = ("key", "ra", "dec", "epoch", "ra_error", "dec_error")
#: The radio error ellipse (major, minor arcsec; pa deg), NaN where the survey gives none.
ELLIPSE_COLUMNS = ("pos_err_major", "pos_err_minor", "pos_err_pa")
#: Years the radio row's date is only known to lie within (its survey span; NaN or absent: an exact date).
SPAN_COLUMN = "epoch_span_years"
#: Columns a star chunk must carry; pmra_error/pmdec_error may be all-NaN.
STAR_COLUMNS = ("key", "ra", "dec", "epoch", "pmra", "pmdec", "ra_error", "dec_error", "pmra_error", "pmdec_error")


#: The default search, declared with the other run parameters (radiolake.run_params).
from radiolake.run_params import DEFAULT_MAX_RADIUS_ARCSEC, DEFAULT_N_SIGMA  # noqa: E402,F401


@dataclass(frozen=True)
class MatchCriteria:
    """Which pairs count as matches.

    radius_arcsec: fixed radius. n_sigma: separation within n sigma of the combined error (radio (+) star
    propagated to the radio epoch (+) its motion over the radio survey's span): the Mahalanobis distance, so
    the n-sigma region is each pair's own error ellipse. With both, a pair must satisfy both: the n-sigma
    search capped by the radius (the default); a pair whose errors are unknown (sigma null) is then judged on
    the radius alone. `search_arcsec` bounds the separation of any pair that can pass (the radius, n_sigma
    times the largest combined error in the data, or the smaller of the two).
    """

    radius_arcsec: float | None
    n_sigma: float | None
    search_arcsec: float

    def __post_init__(self) -> None:
        if self.radius_arcsec is None and self.n_sigma is None:
            raise ValueError("give a radius (arcsec), an n-sigma limit, or both")
        for name in ("radius_arcsec", "n_sigma"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value}")
        if not (math.isfinite(self.search_arcsec) and self.search_arcsec >= 0):
            raise ValueError(f"search bound must be finite and >= 0, got {self.search_arcsec}")


def chord(angle_arcsec: float) -> float:
    """Chord length on the unit sphere for an angle, slightly padded against rounding."""
    theta = min(angle_arcsec / ARCSEC_PER_RAD, math.pi)
    return 2.0 * math.sin(theta / 2.0) * (1 + 1e-9) + 1e-15


def empty_result() -> dict[str, np.ndarray]:
    f = np.zeros(0, dtype=np.float64)
    return {
        "radio_idx": np.zeros(0, np.int64),
        "star_idx": np.zeros(0, np.int64),
        "separation_arcsec": f,
        "separation_sigma": f,
        "combined_error_arcsec": f,
        "dt_years": f,
        "search_fraction": f,
        "pm_applied": np.zeros(0, bool),
        "star_ra_at_epoch": f,
        "star_dec_at_epoch": f,
    }


def evaluate_pairs(
    radio: dict[str, np.ndarray],
    stars: dict[str, np.ndarray],
    i: np.ndarray,
    j: np.ndarray,
    criteria: MatchCriteria,
) -> dict[str, np.ndarray]:
    """The exact test of candidate pairs (radio row i, star j): star moved to the radio epoch, separation and
    significance against the criteria. Shared by the partitioned search and the fast movers' own search."""
    if i.size == 0:
        return empty_result()
    radio_xyz = radec_to_xyz(radio["ra"][i], radio["dec"][i])
    moving = has_proper_motion(stars["pmra"][j], stars["pmdec"][j])
    r_epoch = radio["epoch"]
    dt = r_epoch[i] - stars["epoch"][j]
    q = propagate_xyz(stars["ra"][j], stars["dec"][j], stars["pmra"][j], stars["pmdec"][j], dt)
    if "parallax" in stars:  # seen from the Earth on the radio row's date
        q = apply_parallax(q, stars["parallax"][j], r_epoch[i])
    sep = separation_rad(radio_xyz, q) * ARCSEC_PER_RAD
    xi, eta = tangent_offsets_arcsec(radio_xyz, radio["ra"][i], radio["dec"][i], q)
    radio_cov = radio_covariance(
        radio["ra_error"][i],
        radio["dec_error"][i],
        *(radio[c][i] if c in radio else None for c in ELLIPSE_COLUMNS),
    )
    if SPAN_COLUMN in radio:  # the radio date only known within a span: the star's motion over it
        motion = motion_covariance(stars["pmra"][j], stars["pmdec"][j], radio[SPAN_COLUMN][i])
        radio_cov = tuple(a + b for a, b in zip(radio_cov, motion, strict=True))
    star_ra_err = star_error_at_epoch(stars["ra_error"][j], stars["pmra_error"][j], dt)
    star_dec_err = star_error_at_epoch(stars["dec_error"][j], stars["pmdec_error"][j], dt)
    sigma, combined_error = offset_significance(xi, eta, radio_cov, star_ra_err, star_dec_err)

    keep = np.ones(i.size, dtype=bool)
    if criteria.radius_arcsec is not None:
        keep &= sep <= criteria.radius_arcsec
    if criteria.n_sigma is not None:
        known = np.isfinite(sigma)
        sigma_ok = known & (sigma <= criteria.n_sigma)
        keep &= sigma_ok | (~known & (criteria.radius_arcsec is not None))
    ra_e, dec_e = xyz_to_radec(q[keep])
    searched = search_fraction(
        combined_covariance(tuple(c[keep] for c in radio_cov), star_ra_err[keep], star_dec_err[keep]),
        criteria.n_sigma, criteria.radius_arcsec)
    return {
        "radio_idx": i[keep],
        "star_idx": j[keep],
        "separation_arcsec": sep[keep],
        "separation_sigma": sigma[keep],
        "combined_error_arcsec": combined_error[keep],
        "dt_years": dt[keep],
        "search_fraction": searched,
        "pm_applied": moving[keep],
        "star_ra_at_epoch": ra_e,
        "star_dec_at_epoch": dec_e,
    }
