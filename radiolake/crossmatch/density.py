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
from radiolake.crossmatch.populations import N_CLASSES

DEFAULT_DENSITY_ORDER = 7


def neighbourhood(ra_deg: np.ndarray, dec_deg: np.ndarray, order: int) -> np.ndarray:
    """(N, 9) pixels: each position's own pixel and its neighbours at `order`; -1 where none exists."""
    return neighbours_of(home_pixels(ra_deg, dec_deg, order), order)


def neighbours_of(home: np.ndarray, order: int) -> np.ndarray:
    """(N, 9) pixels: each pixel of `home` (at `order`) and its neighbours; -1 where none exists."""
    if home.size == 0:
        return np.zeros((0, 9), dtype=np.int64)
    return nested.neighbours(np.asarray(home).astype(np.uint64), order, num_threads=1).astype(np.int64)


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


#: Pseudo-count of sources with which a population class's local density is shrunk toward the local density
#: of all sources times the class's share in the row's statistics region: a sparse class (stars within 100 pc,
#: a few per deg^2) has too few sources in one neighbourhood to be counted there alone.
CLASS_DENSITY_SHRINK_SOURCES = 20.0


def class_counts(pix: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (key, count) of sources per (pixel, population class), key = pixel * N_CLASSES + class."""
    key = np.asarray(pix, dtype=np.int64) * N_CLASSES + np.asarray(classes, dtype=np.int64)
    return np.unique(key, return_counts=True)


def _lookup(nb: np.ndarray, pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in `pix`, whether it is there) of each pixel of `nb` (-1: none)."""
    pos = np.clip(np.searchsorted(pix, nb), 0, max(pix.size - 1, 0))
    hit = (nb >= 0) & (pix[pos] == nb) if pix.size else np.zeros(nb.shape, bool)
    return pos, hit


def region_shares(nb: np.ndarray, regions: np.ndarray, pix: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(N, N_CLASSES) each population class's share of the sources counted over the union of the neighbourhood
    pixels of every row of the row's region (`regions`: any integer per row).

    Why this union: it is what the density itself is counted over, so a run that reads a region's radio rows
    (and the stars next to them) counts the same pixels and gets the same share to the bit (integer sums),
    whatever else it read; the stars a run read elsewhere, or the pixels another region's rows cover, do not
    enter. A region of one radio source has its neighbourhood's own shares: no shrinkage, the neighbourhood's
    own count (a pair's star is in it, so its class is never counted as absent)."""
    regions = np.asarray(regions, dtype=np.int64)
    uniq, code = np.unique(regions, return_inverse=True)
    code = code.ravel()
    valid = nb >= 0
    n_pix = int(max(nb.max(initial=0), pix.max(initial=0))) + 1
    key = np.unique(np.broadcast_to(code[:, None], nb.shape)[valid] * n_pix + nb[valid])
    pos, hit = _lookup(key % n_pix, pix)
    sums = np.zeros((uniq.size, N_CLASSES))
    np.add.at(sums, (key // n_pix)[hit], table[pos[hit]])
    total = sums.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, sums / total, 1.0 / N_CLASSES)
    return share[code]


def class_densities(nb: np.ndarray, keys: np.ndarray, counts: np.ndarray, order: int,
                    regions: np.ndarray | None = None, shrink: float = CLASS_DENSITY_SHRINK_SOURCES) -> np.ndarray:
    """(N, N_CLASSES) sources per deg^2 of each population class over each row's neighbourhood `nb`, given
    `class_counts` (over at least every pixel of `nb`): rho_c = rho_all (n_c + s f_c) / (n_all + s), with n
    the neighbourhood's counts and f_c the class's share in the row's statistics region (`region_shares`;
    regions None: every row one region)."""
    keys, counts = np.asarray(keys, dtype=np.int64), np.asarray(counts, dtype=np.float64)
    valid = nb >= 0
    area = valid.sum(axis=1) * pixel_area_deg2(order)
    # the counts as a (pixel, class) table: one lookup of the neighbourhood's pixels serves every class
    # (a lookup per class was most of the driver's assembly); the same sums and divisions as density_from_counts
    pix = np.unique(keys // N_CLASSES)
    table = np.zeros((max(pix.size, 1), N_CLASSES))
    table[np.searchsorted(pix, keys // N_CLASSES), keys % N_CLASSES] = counts
    pos, hit = _lookup(nb, pix)
    n_c = np.stack([np.where(hit, table[:, c][pos], 0).sum(axis=1).astype(np.float64) / area
                    for c in range(N_CLASSES)], axis=1) * area[:, None]
    n_all = n_c.sum(axis=1, keepdims=True)
    share = region_shares(nb, np.zeros(nb.shape[0], np.int64) if regions is None else regions, pix, table)
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = (n_all / area[:, None]) * (n_c + shrink * share) / (n_all + shrink)
    return np.nan_to_num(rho, nan=0.0)


def class_densities_at(ra_deg: np.ndarray, dec_deg: np.ndarray, regions: np.ndarray, keys: np.ndarray,
                       counts: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """`class_densities` of each position's neighbourhood as (table, row): the densities are table[row[i]].

    Why: a row's densities depend only on its pixel at `order` (its neighbourhood) and its region (its
    shares), and a region's shares only on the set of its rows' neighbourhood pixels; so they are computed
    once per distinct (pixel, region), the same values to the bit, instead of once per radio source
    (525 distinct of 183,497 at 10 M x 1 M: the per-row version was a third of the driver's assembly)."""
    home = home_pixels(ra_deg, dec_deg, order).astype(np.int64)
    # one integer key per (pixel, region): np.unique with return_inverse sorts (np.unique(axis=0) took 0.13 s)
    regs, code = np.unique(np.asarray(regions, dtype=np.int64), return_inverse=True)
    n_regs = max(regs.size, 1)
    if 12 * 4**order * n_regs >= 2**62:  # a key would overflow: pairs of rows instead (slower, same values)
        uniq, row = np.unique(np.stack([home, np.asarray(regions, np.int64)], axis=1), axis=0, return_inverse=True)
        u_home, u_region = uniq[:, 0], uniq[:, 1]
    else:
        ukey, row = np.unique(home * n_regs + code.ravel(), return_inverse=True)
        u_home, u_region = ukey // n_regs, regs[ukey % n_regs] if regs.size else ukey
    table = class_densities(neighbours_of(u_home, order), keys, counts, order, regions=u_region)
    return table, row.ravel()
