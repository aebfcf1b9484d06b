"""Candidate pairs by declination zones: sort the stars once, then each radio row is a few binary searches.

Why not a KD-tree: a tree over a chunk's stars costs ~0.3 µs a star to build and search, and the stars
outnumber the radio rows 10:1 or more, so the tree was most of a task's time. Here the stars only get a sort
key, (zone, ra) with zones twice the reach high, and each radio row looks up the stars of the one or two zones
its cone meets within `ra +- w`, w being the reach widened by 1/cos(dec) at the cone's far edge. The work per
star is a key and a place in one sort; per radio row, two to four `searchsorted` calls; the candidates a radio
row gets are the stars in a box of about 6 reach^2 on average — a few per thousand stars. The exact test
(propagation, separation, significance) then runs on the candidates only.

The box is conservative: every star within `reach` of a radio row lies in it, including at RA 0/360 (windows
wrap), near the poles (a zone within reach of a pole is taken whole) and at zone edges (both zones).
"""

from __future__ import annotations

import math

import numpy as np

#: Sort key = zone * ZONE_STRIDE + ra, ra in [0, 360): zones never overlap in key space.
ZONE_STRIDE = 512.0
#: Keys are padded by this many degrees against rounding; zones are ZONE_STRIDE - 360 apart in key space,
#: so a padded window never reaches into another zone.
KEY_PAD_DEG = 1e-6
#: Smallest zone height (deg, 0.72"): keeps zone keys below ~5e8, exact to < 0.1 mas; a taller zone is
#: still correct (a cone meets at most two), it only yields more candidates.
MIN_ZONE_DEG = 2e-4


def zone_height_deg(reach_arcsec: float) -> float:
    return max(reach_arcsec / 3600.0, MIN_ZONE_DEG)


def star_zone_keys(ra_deg: np.ndarray, dec_deg: np.ndarray, height_deg: float) -> np.ndarray:
    """Sort key of each star: its zone (of `height_deg` in dec) then its ra."""
    ra = np.asarray(ra_deg, dtype=np.float64)
    if ra.size and (ra.min() < 0.0 or ra.max() > 360.0):  # validated rows are in [0, 360) already
        ra = np.mod(ra, 360.0)
    key = np.asarray(dec_deg, dtype=np.float64) + 90.0
    key *= 1.0 / height_deg
    np.floor(key, out=key)
    key *= ZONE_STRIDE
    key += ra
    return key


def ra_half_width_deg(dec_deg: np.ndarray, reach_deg: float) -> np.ndarray:
    """Largest |delta ra| of any point within `reach_deg` of a point at `dec_deg` (180 if a pole is in reach)."""
    far = np.abs(dec_deg) + reach_deg
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = math.sin(math.radians(reach_deg)) / np.cos(np.radians(np.minimum(far, 90.0)))
        w = np.degrees(np.arcsin(np.minimum(ratio, 1.0))) * (1 + 1e-9) + KEY_PAD_DEG
    return np.where((far >= 90.0) | (ratio >= 1.0) | ~np.isfinite(w), 180.0, w)


def _windows(ra: np.ndarray, zone: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, lo key, hi key) windows for radio rows in their own zone: ra +- w, split at 0/360."""
    base = zone * ZONE_STRIDE
    lo, hi = ra - w, ra + w
    whole = w >= 180.0
    rows = [np.arange(ra.size)]
    los = [base + np.where(whole, 0.0, np.maximum(lo, 0.0))]
    his = [base + np.where(whole, 360.0, np.minimum(hi, 360.0))]
    low_wrap = np.flatnonzero(~whole & (lo < 0.0))  # also [lo + 360, 360)
    rows.append(low_wrap)
    los.append(base[low_wrap] + lo[low_wrap] + 360.0)
    his.append(base[low_wrap] + 360.0)
    high_wrap = np.flatnonzero(~whole & (hi >= 360.0))  # also [0, hi - 360]
    rows.append(high_wrap)
    los.append(base[high_wrap])
    his.append(base[high_wrap] + hi[high_wrap] - 360.0)
    return np.concatenate(rows), np.concatenate(los), np.concatenate(his)


def zone_candidates(
    radio_ra: np.ndarray,
    radio_dec: np.ndarray,
    star_ra: np.ndarray,
    star_dec: np.ndarray,
    reach_arcsec: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(radio index, star index) of every pair that may lie within `reach_arcsec` (a superset, each once)."""
    if radio_ra.size == 0 or star_ra.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    h = zone_height_deg(2.0 * reach_arcsec)
    r = h / 2.0  # >= the reach
    keys = star_zone_keys(star_ra, star_dec, h)
    order = np.argsort(keys)
    keys = keys[order]
    rdec = np.asarray(radio_dec, dtype=np.float64)
    pad = r * 1e-9 + 1e-12
    zlo = np.floor((rdec - r - pad + 90.0) / h)
    zhi = np.floor((rdec + r + pad + 90.0) / h)
    ra = np.mod(radio_ra, 360.0)
    # A star within reach lies in a zone from zlo to zhi (zones are twice the reach high: one zone, or two where
    # the cone straddles a zone edge); its |delta ra| is bounded by the half width at the row's |dec| + reach.
    w = ra_half_width_deg(rdec, r)
    rows, los, his = [], [], []
    for dz in (0.0, 1.0, 2.0):  # a third zone only when the padded cone ends exactly on zone edges
        part = np.arange(rdec.size) if dz == 0.0 else np.flatnonzero(zlo + dz <= zhi)
        r_, lo, hi = _windows(ra[part], zlo[part] + dz, w[part])
        rows.append(part[r_])
        los.append(lo)
        his.append(hi)
    # Windows in key order: consecutive binary searches then walk nearby memory (several times faster).
    lo_all = np.concatenate(los)
    by_key = np.argsort(lo_all)
    row = np.concatenate(rows)[by_key]
    start = np.searchsorted(keys, lo_all[by_key] - KEY_PAD_DEG, side="left")
    stop = np.searchsorted(keys, np.concatenate(his)[by_key] + KEY_PAD_DEG, side="right")
    n = np.maximum(stop - start, 0)
    total = int(n.sum())
    if total == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    i = np.repeat(row, n)
    # position inside each window: a running index minus the window's first output position
    first = np.repeat(np.cumsum(n) - n, n)
    pos = np.repeat(start, n) + (np.arange(total) - first)
    return i.astype(np.int64), order[pos].astype(np.int64)
