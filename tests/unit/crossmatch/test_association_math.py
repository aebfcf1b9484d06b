"""The association math (Sutherland & Saunders 1992) and the positional error ellipses, on cases with known
answers: Monte Carlo offsets, closed forms, and astropy/numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from radiolake.crossmatch.likelihood import (
    class_priors,
    likelihood_ratio,
    posterior,
    prior_from_counts,
    reliability_curve,
)
from radiolake.surveys.positional_errors import (
    add_floor,
    ellipse_covariance,
    ellipse_from_shape,
    error_scale,
    offset_significance,
    radio_covariance,
)


def test_ellipse_covariance_matches_a_rotated_diagonal():
    major, minor, pa = np.array([3.0]), np.array([1.0]), np.array([30.0])
    c_ee, c_nn, c_en = ellipse_covariance(major, minor, pa)
    t = np.radians(30.0)
    u = np.array([np.sin(t), np.cos(t)])  # major axis (east, north)
    v = np.array([np.cos(t), -np.sin(t)])
    ref = 9.0 * np.outer(u, u) + 1.0 * np.outer(v, v)
    np.testing.assert_allclose([c_ee[0], c_nn[0], c_en[0]], [ref[0, 0], ref[1, 1], ref[0, 1]])


def test_offset_along_the_major_axis_is_less_significant_than_across():
    cov = radio_covariance(np.array([np.nan] * 2), np.array([np.nan] * 2), np.array([2.0, 2.0]),
                           np.array([0.5, 0.5]), np.array([90.0, 90.0]))  # major axis east-west
    sigma, scale = offset_significance(np.array([2.0, 0.0]), np.array([0.0, 2.0]), cov, np.zeros(2), np.zeros(2))
    np.testing.assert_allclose(sigma, [1.0, 4.0])
    np.testing.assert_allclose(scale, [1.0, 1.0])  # sqrt(2 * 0.5)


def test_without_ellipse_the_significance_is_the_old_diagonal_one():
    rng = np.random.default_rng(1)
    xi, eta = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    rr, rd, sr, sd = (rng.uniform(0.1, 2, 50) for _ in range(4))
    sigma, scale = offset_significance(xi, eta, radio_covariance(rr, rd), sr, sd)
    np.testing.assert_allclose(sigma, np.hypot(xi / np.hypot(rr, sr), eta / np.hypot(rd, sd)))
    np.testing.assert_allclose(scale, np.sqrt(np.hypot(rr, sr) * np.hypot(rd, sd)))
    unknown, _ = offset_significance(xi[:1], eta[:1], radio_covariance([np.nan], [np.nan]), [0.0], [0.0])
    assert np.isnan(unknown[0])


def test_ellipse_from_shape_keeps_the_quoted_errors_trace_and_the_shape():
    major, minor, pa = ellipse_from_shape(np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([30.0, 10.0]),
                                          np.array([10.0, 30.0]), np.array([20.0, 20.0]))
    np.testing.assert_allclose(major**2 + minor**2, [5.0, 5.0])
    np.testing.assert_allclose(major / minor, [3.0, 3.0])
    np.testing.assert_allclose(pa, [20.0, 110.0])  # minor > major in the input: the axes swap
    none = ellipse_from_shape(np.array([1.0]), np.array([1.0]), np.array([np.nan]), np.array([1.0]), np.array([0.0]))
    assert all(np.isnan(x[0]) for x in none)


def test_floor_adds_in_quadrature_and_stands_in_for_missing_errors():
    np.testing.assert_allclose(add_floor(np.array([0.3, np.nan]), 0.4), [0.5, 0.4])
    np.testing.assert_array_equal(add_floor(np.array([0.3, np.nan]), 0.0), [0.3, np.nan])
    np.testing.assert_allclose(add_floor(np.array([0.3, 0.3]), np.array([0.4, 0.0])), [0.5, 0.3])
    np.testing.assert_allclose(error_scale([3.0], [3.0]), [3.0])


def test_true_offsets_follow_the_likelihood_normalisation():
    """f integrates to one: the fraction of true offsets with sigma < d is 1 - exp(-d^2/2) (Rayleigh)."""
    rng = np.random.default_rng(2)
    n = 200_000
    maj, mnr, pa = rng.uniform(0.5, 3, n), rng.uniform(0.1, 0.5, n), rng.uniform(0, 180, n)
    cov = radio_covariance(np.full(n, np.nan), np.full(n, np.nan), maj, mnr, pa)
    c = np.stack([np.stack([cov[0], cov[2]], -1), np.stack([cov[2], cov[1]], -1)], -2)
    off = np.einsum("nij,nj->ni", np.linalg.cholesky(c), rng.normal(0, 1, (n, 2)))
    sigma, scale = offset_significance(off[:, 0], off[:, 1], cov, np.zeros(n), np.zeros(n))
    for d in (0.5, 1.0, 2.0, 3.0):
        assert abs((sigma < d).mean() - (1 - np.exp(-(d**2) / 2))) < 0.005
    np.testing.assert_allclose(scale**4, maj**2 * mnr**2, rtol=1e-9)


def test_likelihood_ratio_closed_form():
    lr = likelihood_ratio(np.array([0.0, 2.0, np.nan]), np.array([1.0, 1.0, 1.0]), np.array([3600.0**2] * 3))
    np.testing.assert_allclose(lr[:2], [1 / (2 * np.pi), np.exp(-2) / (2 * np.pi)])
    assert np.isnan(lr[2])


def test_posterior_groups_and_prior():
    group = np.array([7, 7, 3])
    lr = np.array([9.0, 1.0, 4.0])
    p = posterior(group, lr, 0.5)
    np.testing.assert_allclose(p, [9 / 11, 1 / 11, 4 / 5])
    np.testing.assert_allclose(posterior(group, lr, np.array([0.5, 0.5, 0.2])), [9 / 11, 1 / 11, 1 / 2])
    assert np.isnan(posterior(np.array([1, 1]), np.array([np.nan, 2.0]), 0.5)[0])
    np.testing.assert_allclose(posterior(np.array([1, 1]), np.array([np.nan, 2.0]), 0.5)[1], 2 / 3)


def test_posterior_is_calibrated_on_a_simulated_field():
    """Radio sources with and without counterpart among Poisson stars: predicted vs observed, bin by bin."""
    rng = np.random.default_rng(3)
    n_src, q, rho_arcsec2, s = 60_000, 0.3, 0.004, 1.0  # 0.004 stars/arcsec^2, 1" errors, search 5"
    radius = 5.0
    groups, lrs, truth = [], [], []
    has = rng.random(n_src) < q
    for i in range(n_src):
        k = rng.poisson(rho_arcsec2 * np.pi * radius**2)
        r = radius * np.sqrt(rng.random(k))
        th = rng.uniform(0, 2 * np.pi, k)
        x, y = r * np.cos(th), r * np.sin(th)
        t = np.zeros(k, bool)
        if has[i]:
            x, y = np.append(x, rng.normal(0, s)), np.append(y, rng.normal(0, s))
            t = np.append(t, True)
        d = np.hypot(x, y) / s
        keep = np.hypot(x, y) <= radius
        groups += [i] * int(keep.sum())
        lrs.append(likelihood_ratio(d[keep], np.full(keep.sum(), s), np.full(keep.sum(), rho_arcsec2 * 3600**2)))
        truth.append(t[keep])
    p = posterior(np.array(groups), np.concatenate(lrs), q)
    curve = reliability_curve(p, np.concatenate(truth), np.linspace(0, 1, 6))
    full = curve["n"] > 500
    assert full.sum() >= 4, curve
    np.testing.assert_allclose(curve["observed"][full], curve["mean_predicted"][full], atol=0.03)


def test_prior_from_counts():
    assert prior_from_counts(1000, 300, 100) == pytest.approx(200 / 900)
    assert prior_from_counts(1000, 50, 100) == pytest.approx(1e-6)  # fewer matches than chance: ~0
    q, q_run = class_priors(np.array([10, 10_000]), np.array([10, 1000]), np.array([0, 0]))
    assert q_run == pytest.approx(1010 / 10010)
    assert q[0] < 0.5  # 10 of 10 matched, but 10 sources barely move it from the run's prior
    assert q[1] == pytest.approx(0.1, abs=0.002)


def test_reliability_curve_counts():
    c = reliability_curve(np.array([0.05, 0.15, 0.95, np.nan]), np.array([0, 1, 1, 1]), np.array([0, 0.5, 1]))
    np.testing.assert_array_equal(c["n"], [2, 1])
    np.testing.assert_allclose(c["observed"], [0.5, 1.0])
