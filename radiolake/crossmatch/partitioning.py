"""HEALPix partitioning for the cross-match: join order, star keys, radio replicas, star coverage.

Every star belongs to exactly one partition key: its own pixel at the join order. Each radio source is
replicated to every join-order pixel its search cone (radius plus the largest proper-motion displacement,
the "reach") can touch. A pair is then found in exactly one partition, the star's, so no pair is lost at a
pixel edge and none is counted twice; there is no deduplication step to get wrong.

Which pixels a cone touches is decided in a vectorised way, conservatively (a superfluous replica costs a
little work, a missing one loses pairs): the pixels holding the centre and 16 points on a circle 1.2x the
reach; and when the centre lies within 1.5x the reach of a corner of its pixel, all its neighbours too. The
join order keeps pixels at least 10x larger than the reach, so edges are straight at the scale of a cone and
these two rules cover every pixel the cone meets (property tests check corners, poles and RA 0/360).
"""

from __future__ import annotations

import math

import numpy as np
from astropy import units as u
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from radiolake.crossmatch.sky import ARCSEC_PER_RAD, offset_by, radec_to_xyz, separation_rad
from radiolake.schema import HEALPIX_ORDER

#: Pixels must be this many times larger than the reach, so the replica rules above are exact.
PIXEL_TO_REACH = 10.0
#: Default coarsest-useful join order (~14 arcmin pixels): fine enough to spread work, coarse enough that
#: few radio sources sit near an edge and need a replica.
DEFAULT_MAX_JOIN_ORDER = 8
#: Coarsest join order (~7 deg pixels). It caps the reach at ~0.7 deg, which lets the job pre-select the
#: stars near the radio footprint at this order (pixels + neighbours) before it knows the plan.
MIN_JOIN_ORDER = 3
N_CIRCLE = 16
CIRCLE_FACTOR = 1.2
CORNER_FACTOR = 1.5
#: Rows whose estimated distance to their pixel edge exceeds this many reaches need no edge tests
#: (estimate >= 0.68 x true distance, so the true distance is > 2 x 1.5 reach).
INTERIOR_FACTOR = 3.0


def pixel_size_arcsec(order: int) -> float:
    """Characteristic HEALPix pixel size (square root of its area) at `order`."""
    return math.sqrt(4.0 * math.pi / (12 * 4**order)) * ARCSEC_PER_RAD


def pixel_area_deg2(order: int) -> float:
    return 4.0 * math.pi / (12 * 4**order) * (180.0 / math.pi) ** 2


def choose_join_order(reach_arcsec: float, max_order: int = DEFAULT_MAX_JOIN_ORDER) -> int:
    """Finest order <= max_order whose pixels are PIXEL_TO_REACH times the reach."""
    if reach_arcsec < 0 or not math.isfinite(reach_arcsec):
        raise ValueError(f"search reach must be a finite non-negative angle, got {reach_arcsec}")
    for order in range(max_order, MIN_JOIN_ORDER - 1, -1):
        if pixel_size_arcsec(order) >= PIXEL_TO_REACH * reach_arcsec:
            return order
    raise ValueError(
        f"search reach {reach_arcsec:.0f} arcsec (radius plus largest proper-motion displacement) is too large "
        f"for a HEALPix join: it must stay below {pixel_size_arcsec(MIN_JOIN_ORDER) / PIXEL_TO_REACH:.0f} arcsec"
    )


def home_pixels(ra_deg: np.ndarray, dec_deg: np.ndarray, order: int) -> np.ndarray:
    """Nested pixel (int64) holding each position at `order`."""
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.clip(np.asarray(dec_deg, dtype=np.float64), -90.0, 90.0)
    if ra.size == 0:
        return np.zeros(0, dtype=np.int64)
    pix = nested.lonlat_to_healpix(Longitude(ra, unit=u.deg), Latitude(dec, unit=u.deg), order, num_threads=1)
    return pix.astype(np.int64)


def star_keys_from_healpix(healpix_fine: np.ndarray, order: int) -> np.ndarray:
    """Join key of stars from the canonical fine `healpix` column (a bit shift, as in the Spark plan)."""
    return np.asarray(healpix_fine, dtype=np.int64) >> (2 * (HEALPIX_ORDER - order))


def radio_replicas(
    ra_deg: np.ndarray, dec_deg: np.ndarray, reach_arcsec: float, order: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row index, join key) for every pixel each radio cone may touch; each (row, key) once, sorted by key
    (then row).

    Most sources lie far from their pixel's edges and need no replica: cdshealpix's in-pixel offsets (dx, dy)
    times the pixel size underestimate the distance to the edge by at most a factor ~0.68 (measured over the
    sphere, poles included), so rows with that estimate above INTERIOR_FACTOR x reach skip the edge tests.
    """
    ra = np.asarray(ra_deg, dtype=np.float64)
    dec = np.clip(np.asarray(dec_deg, dtype=np.float64), -90.0, 90.0)
    n = ra.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    pix, dx, dy = nested.lonlat_to_healpix(
        Longitude(ra, unit=u.deg), Latitude(dec, unit=u.deg), order, return_offsets=True, num_threads=1
    )
    home = pix.astype(np.int64)
    rows = [np.arange(n, dtype=np.int64)]
    keys = [home]
    edge_est = np.minimum(np.minimum(dx, 1.0 - dx), np.minimum(dy, 1.0 - dy)) * pixel_size_arcsec(order)
    e = np.flatnonzero(edge_est <= INTERIOR_FACTOR * reach_arcsec) if reach_arcsec > 0 else np.zeros(0, np.int64)
    if e.size:
        pa = 2.0 * np.pi * np.arange(N_CIRCLE) / N_CIRCLE
        dist = CIRCLE_FACTOR * reach_arcsec / ARCSEC_PER_RAD
        cra, cdec = offset_by(ra[e, None], dec[e, None], pa[None, :], dist)
        rows.append(np.repeat(e, N_CIRCLE))
        keys.append(home_pixels(cra.ravel(), cdec.ravel(), order))
        vlon, vlat = nested.vertices(home[e].astype(np.uint64), order, num_threads=1)
        vxyz = radec_to_xyz(vlon.deg, vlat.deg).reshape(-1, 3)
        pxyz = np.repeat(radec_to_xyz(ra[e], dec[e]), 4, axis=0)
        corner_dist = separation_rad(pxyz, vxyz).reshape(e.size, 4).min(axis=1) * ARCSEC_PER_RAD
        near = e[corner_dist <= CORNER_FACTOR * reach_arcsec]
        if near.size:
            nb = nested.neighbours(home[near].astype(np.uint64), order, num_threads=1).astype(np.int64)
            rows.append(np.repeat(near, nb.shape[1]))
            keys.append(nb.ravel())
    row = np.concatenate(rows)
    key = np.concatenate(keys)
    ok = key >= 0  # neighbours() marks missing neighbours (at the 8 special corners) with -1
    row, key = row[ok], key[ok]
    # One int64 sort key (key, row) when it fits: a single argsort instead of a lexsort.
    order_idx = np.argsort(key * n + row) if 12 * 4**order * n < 2**62 else np.lexsort((row, key))
    row, key = row[order_idx], key[order_idx]
    first = np.ones(row.size, dtype=bool)
    first[1:] = (row[1:] != row[:-1]) | (key[1:] != key[:-1])
    return row[first], key[first]


def fine_ranges(pixels: np.ndarray, order: int) -> list[tuple[int, int]]:
    """Merged inclusive ranges of the fine `healpix` column covered by `pixels` at `order`.

    Used as a Parquet-pushdown filter so only the stellar row groups near the radio footprint are read.
    """
    pix = np.unique(np.asarray(pixels, dtype=np.int64))
    if pix.size == 0:
        return []
    shift = 2 * (HEALPIX_ORDER - order)
    breaks = np.flatnonzero(np.diff(pix) != 1)
    starts = np.concatenate([[pix[0]], pix[breaks + 1]])
    ends = np.concatenate([pix[breaks], [pix[-1]]])
    return [(int(s) << shift, ((int(e) + 1) << shift) - 1) for s, e in zip(starts, ends, strict=True)]


def coverage_pixels(ra_deg: np.ndarray, dec_deg: np.ndarray, reach_arcsec: float, order: int) -> np.ndarray:
    """Pixels at `order` a star must lie in to be relevant: replicas of the radio cones plus neighbours."""
    _, keys = radio_replicas(ra_deg, dec_deg, reach_arcsec, order)
    keys = np.unique(keys)
    if keys.size == 0:
        return keys
    nb = nested.neighbours(keys.astype(np.uint64), order, num_threads=1).astype(np.int64).ravel()
    return np.unique(np.concatenate([keys, nb[nb >= 0]]))
