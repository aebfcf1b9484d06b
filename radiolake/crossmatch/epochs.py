"""Moving stars from their catalogue epoch to a radio row's epoch.

Model: rectilinear space motion with zero radial velocity, the model astropy's
`SkyCoord.apply_space_motion` uses (via ERFA pmsafe) when no radial velocity is given. With rv = 0 the
distance cancels: the star moves along a straight line tangent to the sky, so the direction after dt years
is p + dt * (mu_ra* e_east + mu_dec e_north), normalised. This agrees with astropy to far below 1 mas
(checked in tests) and needs no parallax, so stars without a parallax are moved the same way.
"""

from __future__ import annotations

import numpy as np

from radiolake.crossmatch.sky import MAS_PER_RAD, local_basis, radec_to_xyz, xyz_to_radec


def has_proper_motion(pmra: np.ndarray, pmdec: np.ndarray) -> np.ndarray:
    """Rows whose proper motion is known (both components finite); the others are matched where they are."""
    return np.isfinite(pmra) & np.isfinite(pmdec)


def propagate_xyz(
    ra_deg: np.ndarray, dec_deg: np.ndarray, pmra_masyr: np.ndarray, pmdec_masyr: np.ndarray, dt_years: np.ndarray
) -> np.ndarray:
    """Unit vectors of the stars after dt years; rows without proper motion stay put."""
    p = radec_to_xyz(ra_deg, dec_deg)
    east, north = local_basis(ra_deg, dec_deg)
    pmra = np.nan_to_num(np.asarray(pmra_masyr, dtype=np.float64))
    pmdec = np.nan_to_num(np.asarray(pmdec_masyr, dtype=np.float64))
    pmdec = np.where(np.isfinite(pmra_masyr) & np.isfinite(pmdec_masyr), pmdec, 0.0)
    pmra = np.where(np.isfinite(pmra_masyr) & np.isfinite(pmdec_masyr), pmra, 0.0)
    dt = np.asarray(dt_years, dtype=np.float64)[..., None]
    q = p + dt * ((pmra / MAS_PER_RAD)[..., None] * east + (pmdec / MAS_PER_RAD)[..., None] * north)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def propagate(ra_deg, dec_deg, pmra_masyr, pmdec_masyr, epoch_from, epoch_to) -> tuple[np.ndarray, np.ndarray]:
    """ra, dec (deg) at `epoch_to` (Julian years); arrays broadcast."""
    dt = np.asarray(epoch_to, dtype=np.float64) - np.asarray(epoch_from, dtype=np.float64)
    return xyz_to_radec(propagate_xyz(ra_deg, dec_deg, pmra_masyr, pmdec_masyr, dt))


def max_displacement_arcsec(pm_total_masyr: float, max_abs_dt_years: float) -> float:
    """Upper bound of how far any star can move between its epoch and any radio epoch (arcsec)."""
    return float(pm_total_masyr) * float(max_abs_dt_years) / 1000.0


def star_error_at_epoch(err_arcsec: np.ndarray, pm_err_masyr: np.ndarray | None, dt_years: np.ndarray) -> np.ndarray:
    """1-sigma position error after propagation: catalogue error (+) proper-motion error times |dt|.

    A missing error counts as zero: a catalogue that gives no errors adds no uncertainty we could know.
    """
    err = np.nan_to_num(np.asarray(err_arcsec, dtype=np.float64))
    if pm_err_masyr is None:
        return err
    pm_err = np.nan_to_num(np.asarray(pm_err_masyr, dtype=np.float64)) / 1000.0
    return np.hypot(err, pm_err * np.abs(dt_years))
