"""Vectorised spherical geometry on unit vectors.

Separations are measured with atan2(|a x b|, a . b), which stays accurate from sub-mas to 180 deg, so the
pair set does not depend on the formula's conditioning near the search radius.
"""

from __future__ import annotations

import numpy as np

ARCSEC_PER_RAD = 180.0 / np.pi * 3600.0
MAS_PER_RAD = ARCSEC_PER_RAD * 1000.0


def radec_to_xyz(ra_deg: np.ndarray, dec_deg: np.ndarray) -> np.ndarray:
    """(N, 3) unit vectors from ICRS ra/dec in degrees."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    cd = np.cos(dec)
    return np.stack([cd * np.cos(ra), cd * np.sin(ra), np.sin(dec)], axis=-1)


def xyz_to_radec(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ra in [0, 360), dec in [-90, 90] degrees from (N, 3) vectors (need not be normalised)."""
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    ra = np.degrees(np.arctan2(y, x)) % 360.0
    ra = np.where(ra >= 360.0, 0.0, ra)  # -tiny % 360 rounds to 360.0
    dec = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return ra, dec


def local_basis(ra_deg: np.ndarray, dec_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors towards increasing ra (east) and dec (north) at each position, (N, 3) each."""
    ra = np.radians(np.asarray(ra_deg, dtype=np.float64))
    dec = np.radians(np.asarray(dec_deg, dtype=np.float64))
    east = np.stack([-np.sin(ra), np.cos(ra), np.zeros_like(ra)], axis=-1)
    north = np.stack([-np.sin(dec) * np.cos(ra), -np.sin(dec) * np.sin(ra), np.cos(dec)], axis=-1)
    return east, north


def separation_rad(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between row vectors of a and b (same shape), radians."""
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.einsum("ij,ij->i", a, b)
    return np.arctan2(cross, dot)


def offset_by(
    ra_deg: np.ndarray, dec_deg: np.ndarray, pa_rad: np.ndarray, dist_rad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move along great circles by `dist_rad` at position angle `pa_rad` (east of north); arrays broadcast.

    The spherical-trigonometry form astropy's `offset_by` uses: a few ufuncs a row, no 3-vectors (the offset
    skies move millions of rows)."""
    lon = np.radians(np.asarray(ra_deg, dtype=np.float64))
    lat = np.radians(np.asarray(dec_deg, dtype=np.float64))
    pa = np.asarray(pa_rad, dtype=np.float64)
    r = np.asarray(dist_rad, dtype=np.float64)
    sin_lat, cos_lat, cos_r, sin_r = np.sin(lat), np.cos(lat), np.cos(r), np.sin(r)
    lat2 = np.arcsin(np.clip(sin_lat * cos_r + cos_lat * sin_r * np.cos(pa), -1.0, 1.0))
    lon2 = lon + np.arctan2(np.sin(pa) * sin_r * cos_lat, cos_r - sin_lat * np.sin(lat2))
    ra = np.degrees(lon2) % 360.0
    ra, dec = np.where(ra >= 360.0, 0.0, ra), np.degrees(lat2)
    pole = np.abs(cos_lat) < 1e-12  # at a pole "north" is a convention: the 3-vector basis of local_basis
    if pole.any():
        ra, dec, pole = np.broadcast_arrays(ra, dec, pole)
        ra, dec = ra.copy(), dec.copy()
        b = np.broadcast_arrays(ra_deg, dec_deg, pa_rad, dist_rad, ra)[:4]
        p = radec_to_xyz(b[0][pole], b[1][pole])
        east, north = local_basis(b[0][pole], b[1][pole])
        pa_p, d_p = b[2][pole][..., None], b[3][pole][..., None]
        ra[pole], dec[pole] = xyz_to_radec(np.cos(d_p) * p + np.sin(d_p) * (np.cos(pa_p) * north + np.sin(pa_p) * east))
    return ra, dec


def offset_sky_position(
    ra_deg: np.ndarray, dec_deg: np.ndarray, offset_index: int, n_offsets: int, offset_arcmin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Positions in offset sky `offset_index` (1..n_offsets; 0 is the real sky): every row moved by
    `offset_arcmin` at position angle 360 deg x (index - 1) / n_offsets."""
    if offset_index == 0:
        return np.asarray(ra_deg, dtype=np.float64), np.asarray(dec_deg, dtype=np.float64)
    pa = 2.0 * np.pi * (offset_index - 1) / n_offsets
    return offset_by(ra_deg, dec_deg, np.full(np.shape(ra_deg), pa), np.radians(offset_arcmin / 60.0))


def tangent_offsets_arcsec(
    center_xyz: np.ndarray, center_ra: np.ndarray, center_dec: np.ndarray, other_xyz: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic (xi, eta) of `other` around `center`, arcsec: the separation split along ra and dec."""
    east, north = local_basis(center_ra, center_dec)
    w = np.einsum("ij,ij->i", other_xyz, center_xyz)
    xi = np.einsum("ij,ij->i", other_xyz, east) / w
    eta = np.einsum("ij,ij->i", other_xyz, north) / w
    return xi * ARCSEC_PER_RAD, eta * ARCSEC_PER_RAD
