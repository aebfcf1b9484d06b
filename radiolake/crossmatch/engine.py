"""The cross-match engine: star chunks matched against the radio skies that reach them, fast movers apart.

Stars never move: a chunk of stars (a HEALPix pixel file, a run of row groups sorted by `healpix`, or any
set of rows) is matched where it is read, against only the radio rows whose cone reaches the chunk's sky.
The radio side is small, so it is the side that is indexed and shipped:

- `RadioSkies` holds every radio row of the real sky (offset 0) and of each offset sky, one *sky row* per
  (offset, radio row), and the replicas of each sky row at the join order (every pixel its cone of radius
  `plan.reach_arcsec` touches), sorted by pixel. The radio rows a chunk needs are one `searchsorted` away:
  the replicas keyed inside the chunk's pixel range. Offset skies are just more sky rows: one pass.
- `match_star_chunk` splits the chunk's stars by how far they can move (|mu| x largest epoch gap): the slow
  ones (nearly all) are matched by `match_chunk` against the chunk's radio rows; the fast ones are returned
  so the driver can give each its own, wide, star-side search (`match_fast_stars`, a KD-tree over all sky
  rows queried with a per-star radius). The reach of the partitioning thus follows the slow stars only.

Each (radio, star) pair is found once: a star belongs to one chunk, and a slow star's every possible partner
has a replica in the star's own join pixel (see partitioning.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from radiolake.crossmatch.epochs import has_proper_motion
from radiolake.crossmatch.pairs import (
    ELLIPSE_COLUMNS,
    MatchCriteria,
    chord,
    empty_result,
    evaluate_pairs,
    match_chunk,
)
from radiolake.crossmatch.sky import radec_to_xyz
from radiolake.schema import HEALPIX_ORDER

#: Star columns the match reads (pmra_error/pmdec_error may be absent: then NaN).
STAR_MATCH_COLUMNS = ("ra", "dec", "epoch", "pmra", "pmdec", "ra_error", "dec_error", "pmra_error", "pmdec_error")


def displacement_arcsec(stars: dict[str, np.ndarray], radio_epoch_min: float, radio_epoch_max: float) -> np.ndarray:
    """How far each star can move between its epoch and any radio epoch (arcsec); 0 without proper motion."""
    moving = has_proper_motion(stars["pmra"], stars["pmdec"])
    pm = np.where(moving, np.hypot(np.nan_to_num(stars["pmra"]), np.nan_to_num(stars["pmdec"])), 0.0)
    epoch = stars["epoch"]
    dt = np.maximum(np.abs(radio_epoch_max - epoch), np.abs(epoch - radio_epoch_min))
    return pm * np.nan_to_num(dt) / 1000.0


@dataclass
class RadioSkies:
    """Radio rows of the real and offset skies (sky row = offset * n_radio + row) and their replicas."""

    n_radio: int
    ra: np.ndarray  # per sky row (the offset skies' shifted positions)
    dec: np.ndarray
    epoch: np.ndarray  # per radio row
    ra_error: np.ndarray
    dec_error: np.ndarray
    ellipse: dict[str, np.ndarray]  # per radio row: ELLIPSE_COLUMNS (NaN where the survey gives none)
    rep_key: np.ndarray  # join-order pixel of each replica, sorted
    rep_sky: np.ndarray  # sky row of each replica

    @classmethod
    def build(
        cls,
        radio: dict[str, np.ndarray],
        reach_arcsec: float,
        join_order: int,
        n_offsets: int,
        offset_arcmin: float,
    ) -> RadioSkies:
        from radiolake.crossmatch.offsets import offset_position  # driver only: keeps task imports light
        from radiolake.crossmatch.partitioning import radio_replicas

        n = radio["ra"].size
        ras, decs, keys, skies = [], [], [], []
        for offset in range(n_offsets + 1):
            ora, odec = offset_position(radio["ra"], radio["dec"], offset, n_offsets, offset_arcmin)
            rows, k = radio_replicas(ora, odec, reach_arcsec, join_order)
            ras.append(ora)
            decs.append(odec)
            keys.append(k)
            skies.append(rows + offset * n)
        key = np.concatenate(keys)
        sky = np.concatenate(skies)
        order = np.argsort(key, kind="stable")
        return cls(
            n_radio=n,
            ra=np.concatenate(ras),
            dec=np.concatenate(decs),
            epoch=radio["epoch"],
            ra_error=radio["ra_error"],
            dec_error=radio["dec_error"],
            ellipse={c: radio[c] if c in radio else np.full(n, np.nan) for c in ELLIPSE_COLUMNS},
            rep_key=key[order],
            rep_sky=sky[order],
        )

    @property
    def epoch_range(self) -> tuple[float, float]:
        return (float(self.epoch.min()), float(self.epoch.max())) if self.n_radio else (0.0, 0.0)

    def keys(self) -> np.ndarray:
        """Distinct join pixels the radio cones reach (of all skies)."""
        return np.unique(self.rep_key)

    def sky_rows_for_keys(self, key_lo: int, key_hi: int) -> np.ndarray:
        """Sky rows with a replica in join pixels [key_lo, key_hi], each once."""
        a = np.searchsorted(self.rep_key, key_lo, side="left")
        b = np.searchsorted(self.rep_key, key_hi, side="right")
        return np.unique(self.rep_sky[a:b])

    def sky_rows_for_healpix(self, hp_lo: int | None, hp_hi: int | None, join_order: int) -> np.ndarray:
        """Sky rows a chunk of stars with fine `healpix` in [hp_lo, hp_hi] needs (all when unknown)."""
        if hp_lo is None or hp_hi is None:
            return np.arange(self.ra.size, dtype=np.int64)
        shift = 2 * (HEALPIX_ORDER - join_order)
        return self.sky_rows_for_keys(int(hp_lo) >> shift, int(hp_hi) >> shift)

    def arrays(self, sky: np.ndarray) -> dict[str, np.ndarray]:
        """match_chunk's radio columns for these sky rows (one common key: the chunk decides locality)."""
        row = sky % self.n_radio if self.n_radio else sky
        return {
            "sky": sky,
            "key": np.zeros(sky.size, np.int64),
            "ra": self.ra[sky],
            "dec": self.dec[sky],
            "epoch": self.epoch[row],
            "ra_error": self.ra_error[row],
            "dec_error": self.dec_error[row],
            **{c: v[row] for c, v in self.ellipse.items()},
        }


def _subset(arrays: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in arrays.items()}


def match_star_chunk(
    stars: dict[str, np.ndarray],
    radio: dict[str, np.ndarray],
    criteria: MatchCriteria,
    radio_epoch_range: tuple[float, float],
    slow_limit_arcsec: float,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pairs of the chunk's slow stars with `radio` (RadioSkies.arrays), and the indices of its fast stars.

    Result indices: `sky` (sky row) and `star_idx` (row of `stars`)."""
    disp = displacement_arcsec(stars, *radio_epoch_range)
    fast = disp > slow_limit_arcsec
    slow_idx = np.flatnonzero(~fast)
    res = empty_result()
    if slow_idx.size and radio["ra"].size:
        keyed = _subset(stars, slow_idx)
        keyed["key"] = np.zeros(slow_idx.size, np.int64)
        res = match_chunk(radio, keyed, criteria)
        res["star_idx"] = slow_idx[res["star_idx"]]
    radio_idx = res.pop("radio_idx")
    res["sky"] = radio["sky"][radio_idx] if radio["ra"].size else np.zeros(0, np.int64)
    return res, np.flatnonzero(fast)


def match_fast_stars(
    stars: dict[str, np.ndarray], skies: RadioSkies, criteria: MatchCriteria
) -> dict[str, np.ndarray]:
    """Pairs of fast-moving stars with any sky row: each star searched within its own reach (search + its own
    largest displacement), so one fast star never widens anyone else's search."""
    n = stars["ra"].size
    if n == 0 or skies.ra.size == 0:
        out = empty_result()
        out["sky"] = out.pop("radio_idx")
        return out
    disp = displacement_arcsec(stars, *skies.epoch_range)
    tree = cKDTree(radec_to_xyz(skies.ra, skies.dec))
    radii = np.array([chord(criteria.search_arcsec + d) for d in disp])
    hits = tree.query_ball_point(radec_to_xyz(stars["ra"], stars["dec"]), radii)
    counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=n)
    j = np.repeat(np.arange(n, dtype=np.int64), counts)
    sky = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]) if counts.sum() else np.zeros(0, np.int64)
    uniq, i = np.unique(sky, return_inverse=True)
    res = evaluate_pairs(skies.arrays(uniq), stars, i.astype(np.int64), j, criteria)
    res["sky"] = uniq[res.pop("radio_idx")]
    return res
