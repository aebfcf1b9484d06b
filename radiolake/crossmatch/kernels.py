"""The matching algorithms: small kernels behind one interface, so the next matcher is a new class.

A kernel answers one question: which (radio row, star) pairs of these arrays may lie within the search bound
plus each star's own displacement (a superset of the matches, each candidate once). The exact test is common
to every kernel (`pairs.evaluate_pairs`: star moved to the radio epoch, separation, significance against the
criteria), so a kernel cannot change what a match is, only how candidates are found. As LSDB's
AbstractCrossmatchAlgorithm, the driver (driver.py) does not know which kernel runs: the slow stars of a star
chunk go to `MatchConfig.kernel` inside the tasks, the fast movers to `MatchConfig.fast_kernel` on the driver.

Kernels run in the executors' Python workers: this module imports only numpy (scipy lazily, on the driver).
Each kernel is a small frozen dataclass, so it travels to the workers by pickle with the task context.

To add one: subclass `MatchKernel`, implement `candidates` (return int64 index arrays into `radio` and
`stars`), and pass an instance as `MatchConfig(kernel=...)`; tests/unit/crossmatch/test_kernels.py checks a
kernel against the astropy reference in a few lines.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from radiolake.crossmatch.pairs import MatchCriteria, chord, empty_result, evaluate_pairs
from radiolake.crossmatch.sky import radec_to_xyz
from radiolake.crossmatch.zones import zone_candidates

Arrays = dict[str, np.ndarray]


class MatchKernel(ABC):
    """One matching algorithm: the candidate pairs of radio rows and stars; `match` applies the common exact
    test. `radio` carries ra, dec (degrees) and a join `key` (same key: same partition; 0 everywhere when the
    caller already decided locality); `stars` the same plus STAR_MATCH_COLUMNS; `disp` is each star's largest
    displacement towards any radio epoch (arcsec, engine.displacement_arcsec)."""

    @abstractmethod
    def candidates(self, radio: Arrays, stars: Arrays, criteria: MatchCriteria, disp: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(radio index, star index) of every pair that may match, each pair once."""

    def match(self, radio: Arrays, stars: Arrays, criteria: MatchCriteria, disp: np.ndarray) -> Arrays:
        """The matching pairs (pairs.empty_result's columns; `radio_idx`/`star_idx` index the inputs)."""
        if radio["ra"].size == 0 or stars["ra"].size == 0:
            return empty_result()
        i, j = self.candidates(radio, stars, criteria, disp)
        return evaluate_pairs(radio, stars, i, j, criteria)


@dataclass(frozen=True)
class ZoneKernel(MatchKernel):
    """Declination zones (zones.py): the stars get a sort key, each radio row a few key windows. Stars that
    barely move (<= max(search, `tight_arcsec`)) share one tight search, the few that move further get one of
    their own, so they do not widen everyone's; candidates are kept where radio row and star share a key."""

    tight_arcsec: float = 1.0

    def candidates(self, radio: Arrays, stars: Arrays, criteria: MatchCriteria, disp: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        search = criteria.search_arcsec
        slow = disp <= max(search, self.tight_arcsec)
        # (all slow: a slice, so the hot common case copies no star column)
        groups = [slice(None)] if slow.all() else [np.flatnonzero(slow), np.flatnonzero(~slow)]
        cand_i, cand_j = [], []
        for idx in groups:
            if disp[idx].size:
                reach = search + float(disp[idx].max())
                i, j = zone_candidates(radio["ra"], radio["dec"], stars["ra"][idx], stars["dec"][idx], reach)
                cand_i.append(i)
                cand_j.append(j if isinstance(idx, slice) else idx[j])
        i, j = np.concatenate(cand_i), np.concatenate(cand_j)
        same_key = radio["key"][i] == stars["key"][j]
        return i[same_key], j[same_key]


@dataclass(frozen=True)
class ConeTreeKernel(MatchKernel):
    """A KD-tree over the radio rows, queried with each star's own radius (search + its own displacement):
    for the few fast movers, so one fast star never widens anyone else's search. Keys are ignored (the
    caller passes every sky row). Needs scipy: runs on the driver."""

    def candidates(self, radio: Arrays, stars: Arrays, criteria: MatchCriteria, disp: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        from scipy.spatial import cKDTree  # driver only: tasks need no scipy

        n = stars["ra"].size
        tree = cKDTree(radec_to_xyz(radio["ra"], radio["dec"]))
        radii = np.array([chord(criteria.search_arcsec + d) for d in disp])
        hits = tree.query_ball_point(radec_to_xyz(stars["ra"], stars["dec"]), radii)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=n)
        j = np.repeat(np.arange(n, dtype=np.int64), counts)
        i = np.concatenate([np.asarray(h, dtype=np.int64) for h in hits]) if counts.sum() else np.zeros(0, np.int64)
        return i, j
