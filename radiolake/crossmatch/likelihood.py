"""Association probability of a radio source with a star: likelihood ratio and posterior.

Sutherland & Saunders (1992), as NWAY and CDS XMatch's chi method use it. For a pair with offset significance
d (`separation_sigma`, the Mahalanobis distance under the combined covariance C of both positions, the
star's moved to the radio epoch):

    f(d)  = exp(-d^2 / 2) / (2 pi sqrt(det C))      density of the offset if the star IS the counterpart
    rho   = local density of unrelated stars          (the same units, per arcsec^2)
    LR    = f / rho

A radio source has a counterpart among the catalogue's stars with prior probability Q. With candidates i
(all its pairs) and the Poisson background, the posterior that candidate i is the counterpart is

    P_i = Q LR_i / (Q sum_j LR_j + 1 - Q)

and 1 - sum_i P_i is the probability that none is. Q is measured, not assumed: the number of real radio
sources with a match within the search radius, minus the number the offset skies say are chance, over the
radio sources that could hold a true one (`prior_from_counts`), per class of radio positional error (radio
stars and background galaxies are located differently well), shrunk toward the whole-run value so that
small classes do not swing it. Pure numpy: the driver calls it through `assemble.assemble_tables`, whose priors come
from `radiolake.crossmatch.priors`.
"""

from __future__ import annotations

import numpy as np

ARCSEC2_PER_DEG2 = 3600.0**2
#: Priors are kept inside (PRIOR_MIN, PRIOR_MAX): a prior of exactly 0 or 1 would make every posterior 0 or 1.
PRIOR_MIN, PRIOR_MAX = 1e-6, 1.0 - 1e-6
#: Pseudo-count of radio sources with which a class's prior is shrunk toward the run's.
PRIOR_SHRINK_SOURCES = 50.0


def likelihood_ratio(
    separation_sigma: np.ndarray, combined_error_arcsec: np.ndarray, density_deg2: np.ndarray
) -> np.ndarray:
    """LR = f(d) / rho (dimensionless). NaN where the significance or error is unknown.

    A zero density (no other star counted around the source) is taken as one star over a square degree:
    the pair's own star proves the density is not zero."""
    d = np.asarray(separation_sigma, dtype=np.float64)
    s = np.asarray(combined_error_arcsec, dtype=np.float64)
    rho = np.maximum(np.asarray(density_deg2, dtype=np.float64), 1.0) / ARCSEC2_PER_DEG2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f = np.exp(-0.5 * d**2) / (2.0 * np.pi * s**2)
        lr = f / rho
    return np.where(np.isfinite(d) & np.isfinite(s) & (s > 0), lr, np.nan)


def prior_from_counts(n_radio: np.ndarray, n_matched: np.ndarray, expected_false: np.ndarray) -> np.ndarray:
    """Q = (N_matched - E) / (N_radio - E), clipped into (0, 1).

    N_matched real radio sources have at least one star within the search radius; E of them are expected to be
    chance matches (from the offset skies). A source with a true counterpart cannot also be a chance-only
    match, so the chance matches are drawn from the N_radio - E ... sources without one (to first order)."""
    n = np.asarray(n_radio, dtype=np.float64)
    m = np.asarray(n_matched, dtype=np.float64)
    e = np.asarray(expected_false, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (m - e) / (n - e)
    return np.clip(np.nan_to_num(q, nan=PRIOR_MIN), PRIOR_MIN, PRIOR_MAX)


def class_priors(
    n_radio: np.ndarray, n_matched: np.ndarray, expected_false: np.ndarray, shrink: float = PRIOR_SHRINK_SOURCES
) -> tuple[np.ndarray, float | np.ndarray]:
    """(prior per class of radio sources, prior of the whole run).

    Each class's counts are shrunk toward the run's prior with `shrink` pseudo-sources: a class with a few
    sources keeps about the run's prior, a class with thousands gets its own. With 2-D `n_matched` and
    `expected_false` (radio class x catalogue population class) every population gets its own prior, shrunk
    toward that population's run prior (returned per population)."""
    n = np.asarray(n_radio, dtype=np.float64)
    m = np.asarray(n_matched, dtype=np.float64)
    e = np.asarray(expected_false, dtype=np.float64)
    q_run = prior_from_counts(n.sum(), m.sum(axis=0), e.sum(axis=0))
    n_b = n[:, None] if m.ndim == 2 else n
    with np.errstate(divide="ignore", invalid="ignore"):
        q_class = (m - e + shrink * q_run) / (n_b - e + shrink)
    q_class = np.clip(np.where(np.isfinite(q_class), q_class, np.broadcast_to(q_run, q_class.shape)),
                      PRIOR_MIN, PRIOR_MAX)
    return q_class, (float(q_run) if np.ndim(q_run) == 0 else q_run)


def posterior(
    group: np.ndarray, lr: np.ndarray, prior: np.ndarray | float, prior_total: np.ndarray | float | None = None
) -> np.ndarray:
    """P_i = Q_i LR_i / (sum_{j in group} Q_j LR_j + 1 - Q_tot) for pairs grouped by radio source.

    group: integer code of each pair's radio source (any order); prior: Q per pair (or one value), the prior
    that the source's counterpart is in the pair's population class; prior_total: per pair, the source's
    prior summed over every class (Q_tot; default: `prior`, one class). With classes this is NWAY's posterior
    with a prior per population and property bin (Salvato et al. 2018). A pair with an unknown LR gets NaN
    and does not count in its group's sum."""
    lr = np.asarray(lr, dtype=np.float64)
    q = np.broadcast_to(np.asarray(prior, dtype=np.float64), lr.shape)
    q_tot = q if prior_total is None else np.broadcast_to(np.asarray(prior_total, dtype=np.float64), lr.shape)
    codes = np.asarray(group)
    if codes.size == 0:
        return np.zeros(0)
    _, inv = np.unique(codes, return_inverse=True)
    return posterior_by_code(inv.ravel(), lr, q, q_tot)


def posterior_by_code(inv: np.ndarray, lr: np.ndarray, q: np.ndarray, q_tot: np.ndarray) -> np.ndarray:
    """`posterior` with the groups given as codes 0..k-1 (no sort: the EM of the priors calls it often)."""
    known = np.isfinite(lr)
    with np.errstate(invalid="ignore", over="ignore"):
        weighted = np.where(known, q * lr, 0.0)
    total = np.bincount(inv, weights=weighted)[inv]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        p = q * lr / (total + (1.0 - q_tot))
    p = np.where(np.isinf(total), np.where(np.isinf(lr), 1.0, 0.0), p)  # LR overflow: that pair takes it all
    return np.where(known, np.clip(p, 0.0, 1.0), np.nan)


def reliability_curve(
    predicted: np.ndarray, is_true: np.ndarray, edges: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Observed true fraction in bins of predicted probability: the reliability diagram's points.

    Returns per bin: lower/upper edge, pairs, mean predicted, observed fraction, its binomial 1-sigma error."""
    p = np.asarray(predicted, dtype=np.float64)
    t = np.asarray(is_true, dtype=bool)
    ok = np.isfinite(p)
    p, t = p[ok], t[ok]
    edges = np.linspace(0.0, 1.0, 11) if edges is None else np.asarray(edges, dtype=np.float64)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, len(edges) - 2)
    nbin = len(edges) - 1
    n = np.bincount(idx, minlength=nbin).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.bincount(idx, weights=p, minlength=nbin) / n
        frac = np.bincount(idx, weights=t.astype(float), minlength=nbin) / n
        err = np.sqrt(mean_p * (1 - mean_p) / n)
    return {"lo": edges[:-1], "hi": edges[1:], "n": n, "mean_predicted": mean_p, "observed": frac, "error": err}


def association_arrays(
    radio_group: np.ndarray,
    separation_sigma: np.ndarray,
    combined_error_arcsec: np.ndarray,
    density_deg2: np.ndarray,
    prior: np.ndarray,
    prior_total: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(likelihood_ratio, association_probability) for pairs; `radio_group`: each pair's radio source, as an
    integer code or its id (all pairs of a source must be present); `density_deg2`: of the pair's population
    class; `prior`/`prior_total`: Priors.for_pairs."""
    lr = likelihood_ratio(separation_sigma, combined_error_arcsec, density_deg2)
    return lr, posterior(radio_group, lr, prior, prior_total)
