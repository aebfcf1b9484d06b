"""Local stellar density and the chance-coincidence probability of a pair.

Density is counted in the radio source's HEALPix pixel at `density_order` and its 8 neighbours (a ~3x3
pixel box centred on the source), which smooths pixel-edge effects and keeps counts usable for sparse
catalogues (order 7: 9 x 0.21 deg^2). p_chance = 1 - exp(-pi r^2 rho): the Poisson probability that at least
one unrelated star lies within the pair's separation r.
"""

from __future__ import annotations

import numpy as np
from cdshealpix import nested

from radiolake.crossmatch.partitioning import home_pixels, pixel_area_deg2

DEFAULT_DENSITY_ORDER = 7


def neighbourhood(ra_deg: np.ndarray, dec_deg: np.ndarray, order: int) -> np.ndarray:
    """(N, 9) pixels: each position's own pixel and its neighbours at `order`; -1 where none exists."""
    home = home_pixels(ra_deg, dec_deg, order)
    if home.size == 0:
        return np.zeros((0, 9), dtype=np.int64)
    return nested.neighbours(home.astype(np.uint64), order, num_threads=1).astype(np.int64)


def density_from_counts(nb: np.ndarray, pix: np.ndarray, counts: np.ndarray, order: int) -> np.ndarray:
    """Stars per deg^2 over each row's neighbourhood `nb` (from `neighbourhood`), given sorted star counts."""
    valid = nb >= 0
    total = np.zeros(nb.shape[0], dtype=np.float64)
    if len(pix):
        pos = np.clip(np.searchsorted(pix, nb), 0, len(pix) - 1)
        hit = valid & (pix[pos] == nb)
        total = np.where(hit, counts[pos], 0).sum(axis=1).astype(np.float64)
    return total / (valid.sum(axis=1) * pixel_area_deg2(order))


def star_counts(star_ra: np.ndarray, star_dec: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (pixel, count) of stars at `order`."""
    pix, counts = np.unique(home_pixels(star_ra, star_dec, order), return_counts=True)
    return pix, counts


def p_chance(separation_arcsec: np.ndarray, density_deg2: np.ndarray) -> np.ndarray:
    """1 - exp(-pi r^2 rho), r in deg; computed with expm1 so tiny probabilities keep their precision."""
    r_deg = np.asarray(separation_arcsec, dtype=np.float64) / 3600.0
    return -np.expm1(-np.pi * r_deg**2 * np.asarray(density_deg2, dtype=np.float64))
