"""Moving stars from their catalogue epoch to a radio row's epoch.

Model: rectilinear space motion with zero radial velocity, the model astropy's
`SkyCoord.apply_space_motion` uses (via ERFA pmsafe) when no radial velocity is given. With rv = 0 the
distance cancels: the star moves along a straight line tangent to the sky, so the direction after dt years
is p + dt * (mu_ra* e_east + mu_dec e_north), normalised. This agrees with astropy to far below 1 mas
(checked in tests) and needs no parallax, so stars without a parallax are moved the same way.

Annual parallax: catalogue positions are barycentric, a radio position is seen from the Earth. A star at
distance 1/parallax is seen from the Earth at barycentric position b (AU) in direction p - parallax * b
(parallax in radians, p the unit vector): exact for that distance, not a first-order formula. b comes from
ERFA's epv00 (the ephemeris astropy's get_body_barycentric uses by default) at the radio row's date.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from radiolake.crossmatch.sky import MAS_PER_RAD, local_basis, radec_to_xyz, xyz_to_radec

# The displacement bound and the Earth's largest distance from the barycentre are stated once, below the
# ingest (which widens a fetch's footprint by the same bound): radiolake.surveys.motion.
from radiolake.surveys.motion import EARTH_BARYCENTRE_MAX_AU as EARTH_BARYCENTRE_MAX_AU
from radiolake.surveys.motion import max_displacement_arcsec as max_displacement_arcsec


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




def earth_barycentric_au(epoch_jyear: np.ndarray) -> np.ndarray:
    """(N, 3) barycentric position of the Earth (AU, ICRS axes) at Julian-year epochs (TT, taken as TDB: 2 ms
    apart; NaN: unknown): a cubic Hermite interpolation of ERFA's epv00 position and velocity between the
    whole days from J2000 around each date (within 1e-9 AU of epv00: ~1e-6 mas of parallax shift at 1").

    Why always the same grid, anchored at J2000: a date's position then depends on that date alone, not on
    which other dates a task holds (evaluating epv00 itself for a task with few dates and interpolating for
    one with many gave positions 1e-10 AU apart, so a region's pairs differed in their last bits between a
    run over the region and a run over the sky, issue 22); epv00 costs tens of microseconds a date, and a
    chunk with offset skies has ~10^5 radio dates."""
    epoch = np.asarray(epoch_jyear, dtype=np.float64)
    uniq, inv = np.unique(epoch, return_inverse=True)
    out = np.full((uniq.size, 3), np.nan)
    known = np.isfinite(uniq)
    if known.any():
        out[known] = _earth_interpolated(uniq[known])
    return out[inv.ravel()]


#: Whole days per cached block of epv00's grid (a block costs ~20 ms once per process).
_BLOCK_DAYS = 512


@lru_cache(maxsize=64)
def _earth_block(block: int) -> tuple[np.ndarray, np.ndarray]:
    """epv00's position and velocity (AU, AU/day) at the whole days J2000 + block * _BLOCK_DAYS + (0 ..
    _BLOCK_DAYS), both ends included (cached: a worker's chunks share it)."""
    import erfa  # astropy's own dependency

    days = np.arange(block * _BLOCK_DAYS, (block + 1) * _BLOCK_DAYS + 1, dtype=np.float64)
    _, pvb = erfa.epv00(np.full(days.size, 2451545.0), days)
    return np.asarray(pvb["p"], dtype=np.float64), np.asarray(pvb["v"], dtype=np.float64)


def _earth_interpolated(epoch_jyear: np.ndarray) -> np.ndarray:
    d = (epoch_jyear - 2000.0) * 365.25  # days from J2000
    k = np.floor(d).astype(np.int64)  # the whole day before each date: the grid's nodes are J2000 + k days
    t = (d - k)[:, None]
    t2, t3 = t * t, t * t * t
    h00, h10, h01, h11 = 2 * t3 - 3 * t2 + 1, t3 - 2 * t2 + t, -2 * t3 + 3 * t2, t3 - t2
    block = k // _BLOCK_DAYS
    out = np.empty((k.size, 3))
    for b in np.unique(block):
        sel = block == b
        p, v = _earth_block(int(b))
        i = k[sel] - int(b) * _BLOCK_DAYS
        out[sel] = h00[sel] * p[i] + h10[sel] * v[i] + h01[sel] * p[i + 1] + h11[sel] * v[i + 1]
    return out


def apply_parallax(q_xyz: np.ndarray, parallax_mas: np.ndarray, epoch_jyear: np.ndarray) -> np.ndarray:
    """Unit vectors of the stars as seen from the Earth at `epoch_jyear` (one per row); rows without a positive
    parallax (unknown, or a negative noisy one) are left as they are."""
    plx = np.asarray(parallax_mas, dtype=np.float64)
    has = np.isfinite(plx) & (plx > 0)
    if not has.any():
        return q_xyz
    out = np.array(q_xyz, dtype=np.float64, copy=True)
    b = earth_barycentric_au(np.asarray(epoch_jyear, dtype=np.float64)[has])
    v = out[has] - (plx[has] / MAS_PER_RAD)[:, None] * b
    out[has] = v / np.linalg.norm(v, axis=-1, keepdims=True)
    return out


def propagate(ra_deg, dec_deg, pmra_masyr, pmdec_masyr, epoch_from, epoch_to) -> tuple[np.ndarray, np.ndarray]:
    """ra, dec (deg) at `epoch_to` (Julian years); arrays broadcast."""
    dt = np.asarray(epoch_to, dtype=np.float64) - np.asarray(epoch_from, dtype=np.float64)
    return xyz_to_radec(propagate_xyz(ra_deg, dec_deg, pmra_masyr, pmdec_masyr, dt))


def star_error_at_epoch(err_arcsec: np.ndarray, pm_err_masyr: np.ndarray | None, dt_years: np.ndarray) -> np.ndarray:
    """1-sigma position error after propagation: catalogue error (+) proper-motion error times |dt|.

    A missing error counts as zero: a catalogue that gives no errors adds no uncertainty we could know.
    """
    err = np.nan_to_num(np.asarray(err_arcsec, dtype=np.float64))
    if pm_err_masyr is None:
        return err
    pm_err = np.nan_to_num(np.asarray(pm_err_masyr, dtype=np.float64)) / 1000.0
    return np.hypot(err, pm_err * np.abs(dt_years))
