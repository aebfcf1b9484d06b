"""Survey astrometry in the cross-match (issue 21): the n-sigma search capped by a radius against an astropy
brute force, the star's motion over a survey span in the covariance, and the true-offset density normalised
to the searched region.

The reference is independent of radiolake.crossmatch: astropy moves the stars (apply_space_motion) and gives
the separation and offsets; the covariance is written out here from its definition.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from astropy import units as u
from astropy.coordinates import CartesianRepresentation, SkyCoord, get_body_barycentric, search_around_sky
from astropy.time import Time

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.pairs import DEFAULT_MAX_RADIUS_ARCSEC, DEFAULT_N_SIGMA
from radiolake.crossmatch.plan import CatalogueStats, plan_match
from radiolake.surveys.positional_errors import motion_covariance, search_fraction
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky
from tests.unit.crossmatch.xmatch_skies import catalogue

TIE = 1e-6  # pairs this close to a limit may fall either way in floating point


def moved_stars(radio: pd.DataFrame, stars: pd.DataFrame, i: np.ndarray, j: np.ndarray) -> SkyCoord:
    """Star j at radio row i's epoch, by astropy (rectilinear motion, zero radial velocity)."""
    ra, dec = stars["ra"].to_numpy()[j].copy(), stars["dec"].to_numpy()[j].copy()
    pmra, pmdec = stars["pmra"].to_numpy()[j], stars["pmdec"].to_numpy()[j]
    mov = np.isfinite(pmra) & np.isfinite(pmdec)
    if mov.any():
        c = SkyCoord(ra=ra[mov] * u.deg, dec=dec[mov] * u.deg, pm_ra_cosdec=pmra[mov] * u.mas / u.yr,
                     pm_dec=pmdec[mov] * u.mas / u.yr, distance=1 * u.kpc, radial_velocity=0 * u.km / u.s,
                     obstime=Time(stars["epoch"].to_numpy()[j][mov], format="jyear"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = c.apply_space_motion(new_obstime=Time(radio["epoch"].to_numpy()[i][mov], format="jyear"))
        ra[mov], dec[mov] = m.ra.deg, m.dec.deg
    moved = SkyCoord(ra * u.deg, dec * u.deg)
    plx = stars["parallax"].to_numpy()[j]
    near = np.isfinite(plx) & (plx > 0)
    if near.any():  # seen from the Earth on the radio date: the star at 1/parallax minus the Earth's position
        star = moved[near].cartesian.xyz.to_value() * (1.0 / np.radians(plx[near] / 3.6e6))
        earth = get_body_barycentric("earth", Time(radio["epoch"].to_numpy()[i][near], format="jyear"))
        seen = SkyCoord(CartesianRepresentation(star - earth.xyz.to_value(u.au)))
        ra[near], dec[near] = seen.ra.deg, seen.dec.deg
        moved = SkyCoord(ra * u.deg, dec * u.deg)
    return moved


def reference_pairs(radio: pd.DataFrame, stars: pd.DataFrame, n_sigma: float, cap: float) -> tuple[dict, dict, set]:
    """({(radio_id, star_id): (separation arcsec, sigma)} for every pair within n_sigma AND within cap, the
    same for every candidate, and the pairs that would pass without the span term).

    Covariance per pair: the radio error ellipse (pos_err_*) or diagonal (ra_error, dec_error); plus the
    star's motion over the radio row's span, (T^2/12) mu mu^T; plus the star's own (diagonal) error."""
    pm = np.hypot(stars["pmra"].fillna(0), stars["pmdec"].fillna(0)).to_numpy()
    plx_max = np.nan_to_num(stars["parallax"].to_numpy()).max() * 1.03 / 1000  # arcsec: the Earth's orbit
    max_dt = max(abs(radio["epoch"].max() - stars["epoch"].min()), abs(stars["epoch"].max() - radio["epoch"].min()))
    rc = SkyCoord(radio["ra"].to_numpy() * u.deg, radio["dec"].to_numpy() * u.deg)
    sc = SkyCoord(stars["ra"].to_numpy() * u.deg, stars["dec"].to_numpy() * u.deg)
    i, j, _, _ = search_around_sky(rc, sc, (cap + pm.max() * max_dt / 1000 + plx_max + 1e-3) * u.arcsec)
    moved = moved_stars(radio, stars, i, j)
    sep = rc[i].separation(moved).to_value(u.arcsec)
    dlon, dlat = rc[i].spherical_offsets_to(moved)
    xi, eta = dlon.to_value(u.arcsec), dlat.to_value(u.arcsec)

    a, b = radio["pos_err_major"].to_numpy()[i], radio["pos_err_minor"].to_numpy()[i]
    pa = np.radians(radio["pos_err_pa"].to_numpy()[i])
    ell = np.isfinite(a)
    c_ee = np.where(ell, a**2 * np.sin(pa) ** 2 + b**2 * np.cos(pa) ** 2, radio["ra_error"].to_numpy()[i] ** 2)
    c_nn = np.where(ell, a**2 * np.cos(pa) ** 2 + b**2 * np.sin(pa) ** 2, radio["dec_error"].to_numpy()[i] ** 2)
    c_en = np.where(ell, (a**2 - b**2) * np.sin(pa) * np.cos(pa), 0.0)
    k = np.nan_to_num(radio["epoch_span_years"].to_numpy()[i]) ** 2 / 12.0
    mu_e = np.nan_to_num(stars["pmra"].to_numpy()[j]) / 1000.0
    mu_n = np.nan_to_num(stars["pmdec"].to_numpy()[j]) / 1000.0
    c_ee = c_ee + stars["ra_error"].to_numpy()[j] ** 2
    c_nn = c_nn + stars["dec_error"].to_numpy()[j] ** 2

    def significance(with_span: float) -> np.ndarray:
        e, n_, en = c_ee + with_span * k * mu_e**2, c_nn + with_span * k * mu_n**2, c_en + with_span * k * mu_e * mu_n
        return np.sqrt((n_ * xi**2 - 2 * en * xi * eta + e * eta**2) / (e * n_ - en**2))

    sigma = significance(1.0)
    rid, sid = radio["source_id"].to_numpy(), stars["source_id"].to_numpy()
    ref = {(rid[a_], sid[b_]): (s, d) for a_, b_, s, d in zip(i, j, sep, sigma, strict=True)}
    keep = (sep <= cap) & (sigma <= n_sigma)
    keep_no_span = (sep <= cap) & (significance(0.0) <= n_sigma)
    return ({k_: v for k_, v, kept in zip(ref, ref.values(), keep, strict=True) if kept}, ref,
            {k_ for k_, kept in zip(ref, keep_no_span, strict=True) if kept})


def sky_with_spans_and_ellipses(seed: int, fast: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    radio, stars = make_sky(seed, "random", 150, 400, 20.0, fast)
    rng = np.random.default_rng(seed + 1000)
    n = len(radio)
    radio["epoch_span_years"] = np.where(rng.random(n) < 0.7, rng.uniform(0.0, 3.0, n), np.nan)
    ell = rng.random(n) < 0.5
    major = rng.uniform(0.3, 3.0, n)
    radio["pos_err_major"] = np.where(ell, major, np.nan)
    radio["pos_err_minor"] = np.where(ell, major * rng.uniform(0.2, 1.0, n), np.nan)
    radio["pos_err_pa"] = np.where(ell, rng.uniform(0, 180, n), np.nan)
    m = len(stars)  # nearby stars up to Proxima's 768 mas; some unknown or (noisy) negative parallaxes
    stars["parallax"] = np.where(rng.random(m) < 0.8, rng.uniform(0.0, 770.0, m), rng.choice([np.nan, -2.0], m))
    return radio, stars


@pytest.mark.parametrize(("seed", "fast", "n_sigma", "cap"), [(1, 0.0, 3.0, 6.0), (2, 0.05, 2.0, 4.0),
                                                               (3, 0.02, 5.0, 30.0)])
def test_capped_n_sigma_pair_set_equals_the_astropy_brute_force(seed, fast, n_sigma, cap):
    radio, stars = sky_with_spans_and_ellipses(seed, fast)
    expected, every, without_span = reference_pairs(radio, stars, n_sigma, cap)
    got = crossmatch_frames(radio, stars, cap, n_sigma=n_sigma)["pairs"]
    found = {(a, b): (s, d) for a, b, s, d in zip(got["radio_id"], got["star_id"], got["separation_arcsec"],
                                                  got["separation_sigma"], strict=True)}
    assert len(found) == len(got) and len(expected) > 50

    def near_limit(key):
        s, d = every[key]
        return abs(s - cap) < TIE or abs(d - n_sigma) < TIE * n_sigma

    missing = [k for k in expected if k not in found and not near_limit(k)]
    extra = [k for k in found if k not in expected and not (k in every and near_limit(k))]
    assert not missing and not extra, (missing[:3], extra[:3])
    for key, (s, d) in found.items():
        assert s == pytest.approx(every[key][0], abs=1e-6) and d == pytest.approx(every[key][1], rel=1e-6)
    assert (got["separation_arcsec"] <= cap).all() and (got["separation_sigma"] <= n_sigma).all()
    # the span matters on this sky: without it the pair set differs
    assert without_span != set(expected)


def test_a_fast_star_observed_at_the_edge_of_a_survey_span_is_found_through_the_span_term():
    # The star moves 1"/yr east; the survey's span is 3 yr and the row's epoch is its middle, but the source was
    # observed at the span's end: 1.5" from where the star is at the middle epoch.
    star = catalogue("star", [150.0], [10.0], 2016.0, ra_error=0.0, dec_error=0.0, pmra=[1000.0], pmdec=[0.0])
    at_end = SkyCoord(150.0 * u.deg, 10.0 * u.deg).directional_offset_by(90 * u.deg, 5.4 * u.arcsec)
    radio = catalogue("radio", [at_end.ra.deg], [at_end.dec.deg], 2019.9, ra_error=0.3, dec_error=0.3)
    without = crossmatch_frames(radio, star, 10.0, n_sigma=3.0)["pairs"]
    assert without.empty  # 1.5" at 0.3": 5 sigma
    radio["epoch_span_years"] = 3.0
    with_span = crossmatch_frames(radio, star, 10.0, n_sigma=3.0)["pairs"]
    assert len(with_span) == 1
    expected_sigma = 1.5 / np.sqrt(0.3**2 + 3.0**2 / 12.0 * 1.0**2)
    assert with_span["separation_sigma"].iloc[0] == pytest.approx(expected_sigma, rel=1e-4)


def test_a_nearby_star_is_matched_where_the_earth_sees_it_on_the_radio_date():
    # A Proxima-like star (768 mas) with no motion: seen from the Earth it is displaced by up to 0.77" from its
    # barycentric position, so a radio source at the apparent position with 0.1" errors is > 3 sigma off
    # without the parallax and on it with.
    star = catalogue("star", [217.4, 217.4], [-62.7, -62.7], 2016.0, ra_error=0.0, dec_error=0.0,
                     pmra=[0.0, 0.0], pmdec=[0.0, 0.0])
    star["source_id"] = ["star:near", "star:far"]
    star["parallax"] = [768.0, np.nan]
    epoch = 2019.25
    earth = get_body_barycentric("earth", Time(epoch, format="jyear")).xyz.to_value(u.au)
    p = SkyCoord(217.4 * u.deg, -62.7 * u.deg).cartesian.xyz.to_value()
    seen = SkyCoord(CartesianRepresentation(p / np.radians(768.0 / 3.6e6) - earth))
    radio = catalogue("radio", [seen.ra.deg], [seen.dec.deg], epoch, ra_error=0.1, dec_error=0.1)
    shift = SkyCoord(217.4 * u.deg, -62.7 * u.deg).separation(seen).to_value(u.arcsec)
    assert shift > 0.4  # the parallax at this date moves the star by more than 4 sigma of the radio error
    pairs = crossmatch_frames(radio, star, 5.0, n_sigma=3.0)["pairs"].set_index("star_id")
    assert list(pairs.index) == ["star:near"]
    assert pairs.loc["star:near", "separation_arcsec"] < 1e-6


def test_motion_covariance_is_the_variance_of_a_date_uniform_over_the_span():
    rng = np.random.default_rng(5)
    pmra, pmdec, span = 800.0, -450.0, 2.5
    t = rng.uniform(-span / 2, span / 2, 400_000)
    offs = np.stack([pmra * t, pmdec * t]) / 1000.0
    emp = np.cov(offs)
    c_ee, c_nn, c_en = motion_covariance(np.array([pmra]), np.array([pmdec]), np.array([span]))
    np.testing.assert_allclose([c_ee[0], c_nn[0], c_en[0]], [emp[0, 0], emp[1, 1], emp[0, 1]], rtol=0.01)
    assert motion_covariance(np.array([np.nan]), np.array([np.nan]), np.array([3.0]))[0][0] == 0.0
    assert motion_covariance(np.array([100.0]), np.array([0.0]), np.array([np.nan]))[0][0] == 0.0


def test_search_fraction_closed_forms_and_monte_carlo():
    s = np.array([0.5, 1.0, 2.0])
    circ = (s**2, s**2, np.zeros(3))
    np.testing.assert_allclose(search_fraction(circ, 3.0, 2.0), -np.expm1(-0.5 * np.minimum(3.0, 2.0 / s) ** 2),
                               atol=1e-12)
    np.testing.assert_allclose(search_fraction(circ, None, 2.0), -np.expm1(-0.5 * (2.0 / s) ** 2), atol=1e-12)
    np.testing.assert_allclose(search_fraction(circ, 3.0, None), -np.expm1(-4.5), atol=1e-12)
    # an elongated, rotated ellipse cut by the cap along its major axis only
    rng = np.random.default_rng(3)
    cov = np.array([[2.0, 1.2], [1.2, 1.0]])
    x = rng.multivariate_normal([0, 0], cov, 1_000_000)
    d = np.sqrt(np.einsum("ij,jk,ik->i", x, np.linalg.inv(cov), x))
    inside = ((d <= 3.0) & (np.hypot(x[:, 0], x[:, 1]) <= 3.5)).mean()
    got = search_fraction((np.array([2.0]), np.array([1.0]), np.array([1.2])), 3.0, 3.5)[0]
    assert got == pytest.approx(inside, abs=0.002) and got < 0.97  # the cap cuts off real mass
    assert search_fraction((np.array([0.0]), np.array([0.0]), np.array([0.0])), 3.0, 2.0)[0] == 1.0


def test_likelihood_ratio_is_normalised_to_the_searched_disc():
    # circular 1" radio errors, stars without errors: a 2" radius holds F = 1 - exp(-2) of a true counterpart's
    # offsets, so its LR is 1/F times the whole-plane one (an n-sigma search at n = 10 has F = 1).
    radio, stars = make_sky(21, "random", 120, 300, 10.0, 0.0)
    radio["ra_error"] = radio["dec_error"] = 1.0
    stars["pmra"] = stars["pmdec"] = np.nan
    stars["ra_error"] = stars["dec_error"] = 0.0
    disc = crossmatch_frames(radio, stars, 2.0)["pairs"].set_index(["radio_id", "star_id"])
    plane = crossmatch_frames(radio, stars, None, n_sigma=10.0)["pairs"].set_index(["radio_id", "star_id"])
    common = disc.index.intersection(plane.index)
    assert len(common) > 20
    ratio = disc.loc[common, "likelihood_ratio"] / plane.loc[common, "likelihood_ratio"]
    np.testing.assert_allclose(ratio, 1.0 / -np.expm1(-2.0), rtol=1e-9)


def test_plan_search_bound_is_the_smaller_of_cap_and_n_sigma_bound_with_the_span_term():
    stats = CatalogueStats(n_radio=10, n_stars=10, radio_epoch_min=2019.0, radio_epoch_max=2020.0,
                           star_epoch_min=2016.0, star_epoch_max=2016.0, star_pm_max=3000.0, radio_err_max=1.0,
                           star_err_max=0.0, star_pm_err_max=0.0, radio_span_max=2.0)
    span_err = 3.0 * 2.0 / np.sqrt(12.0)  # 3"/yr over a 2-yr span
    assert plan_match(stats, None, 3.0).criteria.search_arcsec == pytest.approx(3.0 * np.hypot(1.0, span_err))
    assert plan_match(stats, 4.0, 3.0).criteria.search_arcsec == 4.0
    assert plan_match(stats, 30.0, 3.0).criteria.search_arcsec == pytest.approx(3.0 * np.hypot(1.0, span_err))
    assert plan_match(stats, 4.0, None).criteria.search_arcsec == 4.0


def test_the_pipeline_searches_in_n_sigma_by_default_capped_by_the_radius():
    from radiolake.app.pipeline import DEFAULTS

    assert DEFAULTS["n_sigma"] == DEFAULT_N_SIGMA == 5.0
    assert DEFAULTS["radius_arcsec"] == DEFAULT_MAX_RADIUS_ARCSEC == 30.0
