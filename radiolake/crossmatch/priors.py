"""The priors of the association step, measured from the run itself: Q, the prior probability that a radio
source has its counterpart in the catalogue, per class of radio positional error and population class.

Used by `association_inputs.AssociationInputs.fit_priors` over the final pairs (after ranking, density and
the offset skies), with the likelihood ratio and posterior of `radiolake.crossmatch.likelihood`. The prior
comes from the sources' own counts: per class of radio positional error, the real radio sources with a match
against the chance matches the offset skies found for the same sources (`offset_hits`, `priors_from_sources`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from radiolake.crossmatch.arrays import unique_ints
from radiolake.crossmatch.likelihood import (
    PRIOR_MAX,
    PRIOR_MIN,
    PRIOR_SHRINK_SOURCES,
    class_priors,
    posterior_by_code,
)
from radiolake.crossmatch.populations import N_CLASSES, POPULATIONS

#: Columns the step adds to the pairs.
ASSOCIATION_COLUMNS = ("likelihood_ratio", "association_probability")


#: Radio sources are split into this many classes by positional error (quantiles) for the prior.
PRIOR_CLASSES = 8


@dataclass(frozen=True)
class Priors:
    """Prior probability that a radio source has its counterpart in the catalogue, per class of radio
    positional error (`radio_error_scale`, det(C)^(1/4) arcsec) and per population class of the catalogue
    source (radiolake.crossmatch.populations: extragalactic, uncertain astrometry, stars by parallax).

    Why classes of error: radio stars and background galaxies differ in flux and size, hence in how well they
    are located; a single prior makes faint, poorly located background sources look as likely to be stars as
    the well located ones, and the posterior comes out overconfident for them. Why classes of population: at
    Gaia depth quasars are the true counterparts of a few per cent of radio sources; one prior over every
    catalogue source would lend that to a chance star. Both are known for every pair, so each prior is
    measured from the run itself (its real and offset skies)."""

    edges: tuple[float, ...]  # inner class boundaries, ascending; len(values) == len(edges) + 1
    values: tuple[tuple[float, ...], ...]  # [error class][population class]
    run: float  # the whole run's prior of a counterpart in any class
    by_population: tuple[float, ...] = ()  # the whole run's prior per population class
    n_radio: tuple[int, ...] = ()
    n_matched: tuple[int, ...] = ()  # per error class: sources with a match of any class
    expected_false: tuple[float, ...] = ()  # per error class: chance matches of any class
    n_matched_by_population: tuple[tuple[int, ...], ...] = ()
    expected_false_by_population: tuple[tuple[float, ...], ...] = ()

    def for_pairs(self, scales: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Q of the pair's population class, Q summed over every class) from the radio error scale (unknown
        error: the run's priors) and the catalogue source's population class."""
        scales = np.asarray(scales, dtype=np.float64)
        classes = np.asarray(classes, dtype=np.int64)
        table = np.asarray(self.values, dtype=np.float64)
        run = np.asarray(self.by_population, dtype=np.float64)
        cls = np.searchsorted(np.asarray(self.edges, dtype=np.float64), scales, side="right")
        known = np.isfinite(scales)
        q = np.where(known, table[cls, classes], run[classes])
        q_tot = np.where(known, table.sum(axis=1)[cls], run.sum())
        return q, q_tot

    def as_dict(self) -> dict:
        return {
            "method": "Sutherland & Saunders 1992 posterior; prior = (matched - offset-sky chance) / (radio - chance) "
                      "per radio error class and catalogue population class (NWAY-like, Salvato et al. 2018)",
            "run": self.run,
            "populations": list(POPULATIONS),
            "by_population": list(self.by_population),
            "error_class_edges_arcsec": list(self.edges),
            "by_error_class": [list(v) for v in self.values],
            "n_radio": list(self.n_radio),
            "n_matched": list(self.n_matched),
            "expected_false": list(self.expected_false),
            "n_matched_by_population": [list(v) for v in self.n_matched_by_population],
            "expected_false_by_population": [list(v) for v in self.expected_false_by_population],
        }


def class_edges(scales: np.ndarray, n_classes: int = PRIOR_CLASSES) -> np.ndarray:
    """Inner boundaries splitting the known error scales into (about) equal-count classes."""
    s = np.asarray(scales, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.zeros(0)
    return np.unique(np.quantile(s, np.linspace(0, 1, n_classes + 1)[1:-1]))


def error_classes(scales: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index of each scale (unknown: -1)."""
    scales = np.asarray(scales, dtype=np.float64)
    cls = np.searchsorted(np.asarray(edges, dtype=np.float64), scales, side="right")
    return np.where(np.isfinite(scales), cls, -1)


def priors_from_counts(
    edges: np.ndarray, n_radio: np.ndarray, n_matched: np.ndarray, expected_false: np.ndarray
) -> Priors:
    """Priors from counts per (error class, population class): radio sources (per error class), real ones
    with a match of the class, and the chance matches of the class the offset skies predict (offset sources
    with such a match / number of offset skies). 1-D counts: a single population class (the first).

    Without offset skies nothing says how many matches are chance: pass expected_false 0, every match then
    counts as real and the posteriors are optimistic (run with offsets for calibrated ones)."""
    n_radio = np.asarray(n_radio, dtype=np.int64)
    m = np.asarray(n_matched, dtype=np.float64)
    e = np.asarray(expected_false, dtype=np.float64)
    if m.ndim == 1:
        m = np.pad(m[:, None], ((0, 0), (0, N_CLASSES - 1)))
        e = np.pad(e[:, None], ((0, 0), (0, N_CLASSES - 1)))
    q_cls, q_run = class_priors(n_radio, m, e)
    # a source has at most one counterpart: the classes' priors must leave room for "none"
    scale = np.minimum(1.0, PRIOR_MAX / np.maximum(q_cls.sum(axis=1, keepdims=True), PRIOR_MAX))
    q_cls = q_cls * scale
    q_run = np.asarray(q_run) * min(1.0, PRIOR_MAX / max(float(np.sum(q_run)), PRIOR_MAX))
    return Priors(
        tuple(float(x) for x in edges),
        tuple(tuple(float(q) for q in row) for row in q_cls),
        float(np.sum(q_run)),
        tuple(float(q) for q in q_run),
        tuple(int(n) for n in n_radio),
        tuple(int(x) for x in m.sum(axis=1)),
        tuple(float(x) for x in e.sum(axis=1)),
        tuple(tuple(int(x) for x in row) for row in m),
        tuple(tuple(float(x) for x in row) for row in e),
    )


def offset_hits(offsets: np.ndarray, rows: np.ndarray, classes: np.ndarray, n_radio: int, n_offsets: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radio row, population class, offset skies with a match of that class) of every source with any: one
    chance match per (offset sky, radio source, class), however many stars that sky put near it."""
    n, width = max(int(n_radio), 1), n_offsets + 1
    key = unique_ints((np.asarray(classes, np.int64) * n + np.asarray(rows, np.int64)) * width
                      + np.asarray(offsets, np.int64))  # sorted by (class, row), then offset sky
    pair = key // width
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if pair.size else np.zeros(0, np.int64)
    counts = np.diff(np.r_[first, pair.size])
    return pair[first] % n, pair[first] // n, counts.astype(np.int64)


def priors_from_sources(
    radio_scales: np.ndarray,
    matched_rows: np.ndarray,
    matched_classes: np.ndarray,
    hits: tuple[np.ndarray, np.ndarray, np.ndarray],
    n_offsets: int,
) -> Priors:
    """Priors from what each radio source brought: its error scale (indexed by row), the (row, population
    class) of every real pair, and its offset-sky hits (`offset_hits`). Every sum is of integers, so the
    priors of a set of sources do not depend on the order they come in (a catalogue grown region by region
    gets the priors of one run over it, issue 22)."""
    scales = np.asarray(radio_scales, dtype=np.float64)
    edges = class_edges(scales)
    cls = error_classes(scales, edges)
    n_cls = len(edges) + 1
    n = max(scales.size, 1)
    n_radio = np.bincount(cls[cls >= 0], minlength=n_cls)
    # a source counts once per class it has a match in, however many sources of that class it found
    key = unique_ints(np.asarray(matched_classes, np.int64) * n + np.asarray(matched_rows, np.int64))
    n_matched = _count(cls[key % n], key // n, n_cls)
    hit_rows, hit_classes, hit_counts = (np.asarray(a, np.int64) for a in hits)
    false_total = _count(cls[hit_rows], hit_classes, n_cls, hit_counts)
    expected = false_total / n_offsets if n_offsets else np.zeros_like(false_total)
    return priors_from_counts(edges, n_radio, n_matched, expected)


def _count(err_cls: np.ndarray, pop: np.ndarray, n_cls: int, weights: np.ndarray | None = None) -> np.ndarray:
    """(error class x population class) counts (of `weights`, integers; default 1 each); rows of unknown
    error (-1) count nowhere. Sums of integers: exact in float64, in any order."""
    ok = err_cls >= 0
    w = None if weights is None else np.asarray(weights, np.float64)[ok]
    flat = np.bincount(err_cls[ok] * N_CLASSES + pop[ok], weights=w, minlength=n_cls * N_CLASSES)
    return flat.astype(np.float64).reshape(n_cls, N_CLASSES)


#: EM iterations of the priors at most, and the change of every prior below which they have converged.
EM_MAX_ITERATIONS = 500
EM_TOLERANCE = 1e-7


def refine_priors(
    priors: Priors,
    radio_group: np.ndarray,
    radio_scales: np.ndarray,
    star_class: np.ndarray,
    lr: np.ndarray,
    shrink: float = PRIOR_SHRINK_SOURCES,
) -> Priors:
    """The priors re-estimated by expectation-maximisation from the pairs' likelihood ratios, starting from the
    offset-sky counts: Q[e, c] = (sum of the posteriors of the class-c pairs of the radio sources of error
    class e) / (radio sources of class e), shrunk toward the run's Q[c] like the counts, until it stops
    changing. This is the maximum-likelihood mixture weight given the LRs (as NWAY fits its priors).

    Why not the counts alone: (matched - chance) / radio is a difference of two large numbers for a class with
    many chance matches and few true ones (distant stars under poorly located radio sources), and its noise,
    made by the same chance matches the posterior then judges, makes their posteriors overconfident. The LR
    weighs each match by how near it is, so the estimate's noise is far smaller.

    radio_group: each pair's radio source (integer code); radio_scales: each pair's radio error scale (NaN:
    unknown, such pairs do not count); star_class: each pair's population class; lr: each pair's LR."""
    edges = np.asarray(priors.edges, dtype=np.float64)
    n_radio = np.asarray(priors.n_radio, dtype=np.float64)
    if not n_radio.sum() or not np.size(lr):
        return priors
    cls = error_classes(radio_scales, edges)
    known = (cls >= 0) & np.isfinite(lr)
    if not known.any():
        return priors
    e_cls, s_cls = cls[known], np.asarray(star_class, dtype=np.int64)[known]
    _, group = np.unique(np.asarray(radio_group)[known], return_inverse=True)
    group = group.ravel()
    lr_k = np.asarray(lr, dtype=np.float64)[known]
    detected = detected_classes(priors)
    q = np.asarray(priors.values, dtype=np.float64)
    q[:, ~detected] = PRIOR_MIN
    q_run = np.asarray(priors.by_population, dtype=np.float64)
    for _ in range(EM_MAX_ITERATIONS):
        p = posterior_by_code(group, lr_k, q[e_cls, s_cls], q.sum(axis=1)[e_cls])
        s = _count_weighted(e_cls, s_cls, np.nan_to_num(p), q.shape[0])
        s[:, ~detected] = 0.0
        # Q[e, c] = Q_e w_c: each error class's prior of a counterpart (as without populations), times the
        # share of population class c among all counterparts
        total = s.sum()
        q_all = total / n_radio.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            q_e = np.nan_to_num((s.sum(axis=1) + shrink * q_all) / (n_radio + shrink), nan=q_all)
        share = s.sum(axis=0) / total if total > 0 else np.full(N_CLASSES, 1.0 / N_CLASSES)
        q_run = np.clip(q_all * share, PRIOR_MIN, PRIOR_MAX)
        new = np.clip(q_e[:, None] * share[None, :], PRIOR_MIN, PRIOR_MAX)
        done = np.max(np.abs(new - q)) < EM_TOLERANCE
        q = new
        if done:
            break
    return replace(priors, values=tuple(tuple(float(x) for x in row) for row in q),
                   by_population=tuple(float(x) for x in q_run), run=float(q_run.sum()))


#: A population class with chance matches expected (offset skies) gets a prior only where the real sky has
#: more matches in it, at this Poisson probability or less of so many (or more) by chance.
DETECTION_MAX_CHANCE_PROBABILITY = 1e-3


def detected_classes(priors: Priors) -> np.ndarray:
    """Which population classes have counterparts at all: matches above the offset skies' chance count.

    Why: a class with no counterparts (distant stars under radio galaxies) still gets a positive prior from
    noise when fitted, and its chance matches then come out overconfident; a referee would not accept a class
    of counterparts whose number is consistent with chance. Without offset skies every class counts."""
    m = np.asarray(priors.n_matched_by_population, dtype=np.float64).sum(axis=0)
    e = np.asarray(priors.expected_false_by_population, dtype=np.float64).sum(axis=0)
    if not e.sum():
        return np.ones(N_CLASSES, dtype=bool)
    from scipy.special import gammainc  # driver only

    # P(X >= m) for X ~ Poisson(e): the regularised lower incomplete gamma. A class with less than one chance
    # match expected (nearby stars) needs no test: its prior cannot be made by chance matches.
    chance = np.where(m > 0, gammainc(np.maximum(m, 1.0), np.maximum(e, 1e-12)), 1.0)
    return (e < 1.0) | (chance < DETECTION_MAX_CHANCE_PROBABILITY)


#: The posteriors are summed per class as integers of this many fractional bits (split in two halves that a
#: float64 sums exactly): a sum of integers does not depend on the order of its terms, so the EM of a set of
#: sources gives the same priors in whatever order a run holds them (to 2^-40 of a posterior).
_FIXED_BITS, _HALF_BITS = 40, 20


def _count_weighted(err_cls: np.ndarray, pop: np.ndarray, weights: np.ndarray, n_cls: int) -> np.ndarray:
    """Sum of `weights` (in [0, 1]) per (error class, population class), independent of their order."""
    fixed = np.rint(np.clip(weights, 0.0, 1.0) * 2.0**_FIXED_BITS).astype(np.int64)
    key, size = err_cls * N_CLASSES + pop, n_cls * N_CLASSES
    high = np.bincount(key, weights=(fixed >> _HALF_BITS).astype(np.float64), minlength=size)
    low = np.bincount(key, weights=(fixed & ((1 << _HALF_BITS) - 1)).astype(np.float64), minlength=size)
    return (high * 2.0**-_HALF_BITS + low * 2.0**-_FIXED_BITS).reshape(n_cls, N_CLASSES)
