"""The association post-processing step: likelihood ratio and posterior for every final pair.

Runs once, over the final pairs of a run (after ranking, density and the offset skies), in
`assemble.assemble_tables`, which the in-memory core and the Spark job's driver share (the engine returns every
pair to the driver), through the pure-numpy math of `radiolake.crossmatch.association`. The prior comes from
the run's own counts: per class of radio positional error, the real radio sources with a match against the
chance matches the offset skies found for the same sources (`priors_from_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from radiolake.crossmatch.association import class_priors, likelihood_ratio, posterior

#: Columns the step adds to the pairs.
ASSOCIATION_COLUMNS = ("likelihood_ratio", "association_probability")


#: Radio sources are split into this many classes by positional error (quantiles) for the prior.
PRIOR_CLASSES = 8


@dataclass(frozen=True)
class Priors:
    """Prior probability that a radio source has its counterpart in the stellar catalogue, per class of radio
    positional error (`radio_error_scale`, det(C)^(1/4) arcsec).

    Why classes of error: radio stars and background galaxies differ in flux and size, hence in how well they
    are located; a single prior makes faint, poorly located background sources look as likely to be stars as
    the well located ones, and the posterior comes out overconfident for them. The error is known for every
    radio source, so the prior can be measured per class from the run itself."""

    edges: tuple[float, ...]  # inner class boundaries, ascending; len(values) == len(edges) + 1
    values: tuple[float, ...]
    run: float
    n_radio: tuple[int, ...] = ()
    n_matched: tuple[int, ...] = ()
    expected_false: tuple[float, ...] = ()

    def for_scales(self, scales: np.ndarray) -> np.ndarray:
        """The prior of each radio source from its error scale (unknown error: the run's prior)."""
        scales = np.asarray(scales, dtype=np.float64)
        cls = np.searchsorted(np.asarray(self.edges, dtype=np.float64), scales, side="right")
        return np.where(np.isfinite(scales), np.asarray(self.values, dtype=np.float64)[cls], self.run)

    def as_dict(self) -> dict:
        return {
            "method": "Sutherland & Saunders 1992 posterior; prior = (matched - offset-sky chance) / (radio - chance)",
            "run": self.run,
            "error_class_edges_arcsec": list(self.edges),
            "by_error_class": list(self.values),
            "n_radio": list(self.n_radio),
            "n_matched": list(self.n_matched),
            "expected_false": list(self.expected_false),
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
    """Priors from per-class counts: radio sources, real ones with a match, and the chance matches the offset
    skies predict (offset sources with a match / number of offset skies).

    Without offset skies nothing says how many matches are chance: pass expected_false 0, every match then
    counts as real and the posteriors are optimistic (run with offsets for calibrated ones)."""
    q_cls, q_run = class_priors(n_radio, n_matched, expected_false)
    return Priors(
        tuple(float(e) for e in edges),
        tuple(float(q) for q in q_cls),
        q_run,
        tuple(int(n) for n in n_radio),
        tuple(int(m) for m in n_matched),
        tuple(float(e) for e in expected_false),
    )


def priors_from_rows(
    radio_scales: np.ndarray,
    matched_rows: np.ndarray,
    offset_offsets: np.ndarray,
    offset_rows: np.ndarray,
    n_offsets: int,
) -> Priors:
    """Priors from a run's engine output, by radio row: every radio source's error scale (indexed by row),
    the rows of real sources with a match, and the (offset sky, row) of each offset-sky pair."""
    scales = np.asarray(radio_scales, dtype=np.float64)
    edges = class_edges(scales)
    cls = error_classes(scales, edges)
    n_cls = len(edges) + 1
    n_radio = np.bincount(cls[cls >= 0], minlength=n_cls)
    m = cls[np.unique(np.asarray(matched_rows, dtype=np.int64))]
    n_matched = np.bincount(m[m >= 0], minlength=n_cls)
    # one chance match per (offset sky, radio source), however many stars it found
    sky = np.unique(np.asarray(offset_offsets, np.int64) * max(scales.size, 1) + np.asarray(offset_rows, np.int64))
    c = cls[sky % max(scales.size, 1)]
    false_total = np.bincount(c[c >= 0], minlength=n_cls)
    expected = false_total / n_offsets if n_offsets else np.zeros(n_cls)
    return priors_from_counts(edges, n_radio, n_matched, expected)


def association_arrays(
    radio_group: np.ndarray,
    separation_sigma: np.ndarray,
    combined_error_arcsec: np.ndarray,
    density_deg2: np.ndarray,
    prior: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(likelihood_ratio, association_probability) for pairs; `radio_group`: each pair's radio source, as an
    integer code or its id (all pairs of a source must be present)."""
    lr = likelihood_ratio(separation_sigma, combined_error_arcsec, density_deg2)
    return lr, posterior(radio_group, lr, prior)
