"""Positional error ellipses and the significance of a radio-star offset.

A radio component's position error is an ellipse, not two independent axis errors: an elongated component
(or an elongated beam) is uncertain mostly along its major axis (Condon 1997). Surveys quote it as
(major, minor, position angle), or as the fitted shape plus errors projected on RA and Dec. This module turns
either into a covariance in the local (east, north) tangent plane, adds the star's error, and gives the
Mahalanobis distance of the offset (`separation_sigma`) and the combined 1-sigma scale the association
likelihood needs. Pure numpy, vectorised; NaN means "not given".
"""

from __future__ import annotations

import numpy as np


def ellipse_covariance(
    major: np.ndarray, minor: np.ndarray, pa_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c_ee, c_nn, c_en) arcsec^2 of a 1-sigma ellipse with axes `major`, `minor` (arcsec) and the major axis
    at position angle `pa_deg` (degrees east of north)."""
    pa = np.radians(np.asarray(pa_deg, dtype=np.float64))
    a2 = np.asarray(major, dtype=np.float64) ** 2
    b2 = np.asarray(minor, dtype=np.float64) ** 2
    s, c = np.sin(pa), np.cos(pa)  # major axis direction in (east, north)
    return a2 * s * s + b2 * c * c, a2 * c * c + b2 * s * s, (a2 - b2) * s * c


def ellipse_from_shape(
    ra_error: np.ndarray, dec_error: np.ndarray, shape_major: np.ndarray, shape_minor: np.ndarray, shape_pa: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-sigma error ellipse (major, minor, pa) oriented like the fitted component shape, sized by the quoted
    errors.

    A Gaussian fit's position errors scale with the component's axes (Condon 1997: sigma_axis ~ theta_axis /
    SNR), so the error ellipse has the shape's axis ratio and orientation. Its size comes from the quoted RA/Dec
    errors, which are that ellipse projected on the axes: the trace (ra_error^2 + dec_error^2) does not change
    under rotation, so major^2 + minor^2 = ra_error^2 + dec_error^2. NaN where the shape or errors are missing.
    """
    ra_e = np.asarray(ra_error, dtype=np.float64)
    dec_e = np.asarray(dec_error, dtype=np.float64)
    smaj = np.abs(np.asarray(shape_major, dtype=np.float64))
    smin = np.abs(np.asarray(shape_minor, dtype=np.float64))
    trace = ra_e**2 + dec_e**2
    with np.errstate(divide="ignore", invalid="ignore"):
        big, small = np.maximum(smaj, smin), np.minimum(smaj, smin)
        ratio2 = (small / big) ** 2
        major = np.sqrt(trace / (1.0 + ratio2))
        minor = major * np.sqrt(ratio2)
    pa = np.where(smaj >= smin, shape_pa, np.asarray(shape_pa, dtype=np.float64) + 90.0)
    pa = np.mod(pa, 180.0)
    ok = np.isfinite(major) & np.isfinite(minor) & np.isfinite(pa) & (big > 0)
    nan = np.nan
    return np.where(ok, major, nan), np.where(ok, minor, nan), np.where(ok, pa, nan)


def ellipse_from_snr(
    fitted_major: np.ndarray, fitted_minor: np.ndarray, shape_pa: np.ndarray, peak: np.ndarray, rms: np.ndarray,
    peak_bias: float, systematic_fraction: float, confidence_sigma: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-sigma error ellipse (major, minor, pa) from a survey's formula where it quotes no errors: along each
    fitted axis sigma = axis * (1 / SNR + systematic_fraction) / confidence_sigma, SNR = (peak - peak_bias) /
    rms (Condon 1997's scaling of a Gaussian fit's errors with the fitted axis over the SNR, plus the survey's
    calibration term). An SNR below 1 or unknown counts as 1, the formula's largest error; an unknown PA makes
    the ellipse round at its major axis. NaN where an axis is missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = (np.asarray(peak, dtype=np.float64) - peak_bias) / np.asarray(rms, dtype=np.float64)
    snr = np.where(np.isfinite(snr) & (snr > 1.0), snr, 1.0)
    scale = (1.0 / snr + systematic_fraction) / confidence_sigma
    a = np.abs(np.asarray(fitted_major, dtype=np.float64)) * scale
    b = np.abs(np.asarray(fitted_minor, dtype=np.float64)) * scale
    pa = np.asarray(shape_pa, dtype=np.float64)
    major, minor = np.maximum(a, b), np.minimum(a, b)
    pa = np.mod(np.where(a >= b, pa, pa + 90.0), 180.0)
    unknown_pa = np.isnan(pa)  # an elongated shape without its angle: round at the major axis (never narrower)
    return major, np.where(unknown_pa, major, minor), np.where(unknown_pa, 0.0, pa)


def axis_errors(major: np.ndarray, minor: np.ndarray, pa_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ellipse's 1-sigma errors along RA (on the sky) and Dec: the square roots of its covariance's
    diagonal (what a survey quoting RA/Dec errors of this ellipse would quote)."""
    c_ee, c_nn, _ = ellipse_covariance(major, minor, pa_deg)
    return np.sqrt(c_ee), np.sqrt(c_nn)


def add_floor(error: np.ndarray, floor_arcsec: float | np.ndarray) -> np.ndarray:
    """Quoted 1-sigma error with a systematic floor added in quadrature; a missing quoted error counts as 0
    (the floor alone is then the best statement of the uncertainty). A zero floor changes nothing."""
    err = np.asarray(error, dtype=np.float64)
    floor = np.asarray(floor_arcsec, dtype=np.float64)
    if not np.any(floor > 0):
        return err
    return np.where(floor > 0, np.hypot(np.nan_to_num(err), floor), err)


def radio_covariance(
    ra_error: np.ndarray,
    dec_error: np.ndarray,
    major: np.ndarray | None = None,
    minor: np.ndarray | None = None,
    pa_deg: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c_ee, c_nn, c_en) of radio positions: the error ellipse where one is given, else diagonal from the RA
    (on the sky) and Dec errors; missing errors count as 0."""
    c_ee = np.nan_to_num(np.asarray(ra_error, dtype=np.float64)) ** 2
    c_nn = np.nan_to_num(np.asarray(dec_error, dtype=np.float64)) ** 2
    c_en = np.zeros_like(c_ee)
    if major is None or minor is None or pa_deg is None:
        return c_ee, c_nn, c_en
    has = np.isfinite(major) & np.isfinite(minor) & np.isfinite(pa_deg)
    if has.any():
        e_ee, e_nn, e_en = ellipse_covariance(major, minor, pa_deg)
        c_ee, c_nn, c_en = np.where(has, e_ee, c_ee), np.where(has, e_nn, c_nn), np.where(has, e_en, c_en)
    return c_ee, c_nn, c_en


def motion_covariance(
    pmra_masyr: np.ndarray, pmdec_masyr: np.ndarray, span_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c_ee, c_nn, c_en) arcsec^2 of a star's position when the radio date is only known to lie in a span.

    The radio row's epoch is the span's middle; its real date is uniform over the span (T years), so the star
    is displaced along its proper motion mu by mu * (t - t_mid), of variance T^2 / 12: a covariance
    (T^2 / 12) mu mu^T, elongated along the motion. Zero without proper motion or without a span."""
    k = np.nan_to_num(np.asarray(span_years, dtype=np.float64)) ** 2 / 12.0
    a = np.nan_to_num(np.asarray(pmra_masyr, dtype=np.float64)) / 1000.0
    d = np.nan_to_num(np.asarray(pmdec_masyr, dtype=np.float64)) / 1000.0
    return k * a * a, k * d * d, k * a * d


def combined_covariance(
    radio_cov: tuple[np.ndarray, np.ndarray, np.ndarray], star_ra_error: np.ndarray, star_dec_error: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The radio covariance plus the star's (diagonal, already propagated to the radio epoch); arcsec^2."""
    c_ee = radio_cov[0] + np.nan_to_num(np.asarray(star_ra_error, dtype=np.float64)) ** 2
    c_nn = radio_cov[1] + np.nan_to_num(np.asarray(star_dec_error, dtype=np.float64)) ** 2
    return c_ee, c_nn, radio_cov[2]


#: Angles of the quadrature in `search_fraction` (over half a turn: the integrand has period pi).
SEARCH_FRACTION_ANGLES = 90


def search_fraction(
    cov: tuple[np.ndarray, np.ndarray, np.ndarray], n_sigma: float | None, radius_arcsec: float | None
) -> np.ndarray:
    """Probability that a true counterpart's offset falls inside the searched region: the mass of the offset's
    Gaussian N(0, C) in {Mahalanobis d <= n_sigma} and {|offset| <= radius} (either may be None: no limit).

    The likelihood ratio's offset density must be normalised over the region searched, not the whole plane:
    a counterpart is looked for only there, and the prior Q counts sources with a match only there. In
    whitened coordinates y = C^(-1/2) x the n-sigma limit is the disc |y| <= n and the radius limit reaches
    radius / sqrt(u^T C u) along the unit direction u, so the mass is the average over directions of
    1 - exp(-t(u)^2 / 2), t = min(n, radius / sqrt(u^T C u)), here by the midpoint rule. With n-sigma alone it
    is 1 - exp(-n^2 / 2) exactly; 1 where the covariance is unknown or degenerate."""
    c_ee, c_nn, c_en = (np.asarray(c, dtype=np.float64) for c in cov)
    ok = (c_ee > 0) & (c_nn > 0) & (c_ee * c_nn - c_en**2 > 0)
    if radius_arcsec is None:
        if n_sigma is None:
            return np.ones(c_ee.shape)
        return np.where(ok, -np.expm1(-0.5 * float(n_sigma) ** 2), 1.0)
    total = np.zeros(c_ee.shape)
    theta = (np.arange(SEARCH_FRACTION_ANGLES) + 0.5) * np.pi / SEARCH_FRACTION_ANGLES
    r2 = float(radius_arcsec) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        for c, s in zip(np.cos(theta), np.sin(theta), strict=True):
            t2 = r2 / (c * c * c_ee + 2.0 * c * s * c_en + s * s * c_nn)
            if n_sigma is not None:
                t2 = np.minimum(t2, float(n_sigma) ** 2)
            total += -np.expm1(-0.5 * t2)
    return np.where(ok, total / SEARCH_FRACTION_ANGLES, 1.0)


def offset_significance(
    xi: np.ndarray,
    eta: np.ndarray,
    radio_cov: tuple[np.ndarray, np.ndarray, np.ndarray],
    star_ra_error: np.ndarray,
    star_dec_error: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(separation_sigma, combined_error_arcsec) of offsets (xi east, eta north; arcsec).

    The combined covariance is the radio covariance plus the star's (diagonal, already propagated to the radio
    epoch). separation_sigma is the Mahalanobis distance of the offset; combined_error_arcsec is
    det(C)^(1/4), the geometric-mean 1-sigma axis, so that the offset density of a true pair is
    exp(-sigma^2 / 2) / (2 pi combined_error^2). Both NaN where the combined covariance is degenerate.
    """
    c_ee, c_nn, c_en = combined_covariance(radio_cov, star_ra_error, star_dec_error)
    det = c_ee * c_nn - c_en**2
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (c_ee > 0) & (c_nn > 0) & (det > 0)
        d2 = (c_nn * xi**2 - 2.0 * c_en * xi * eta + c_ee * eta**2) / det
        sigma = np.where(ok, np.sqrt(np.maximum(d2, 0.0)), np.nan)
        scale = np.where(ok, np.sqrt(np.sqrt(np.where(ok, det, 1.0))), np.nan)
    return sigma, scale


def error_scale(
    ra_error: np.ndarray,
    dec_error: np.ndarray,
    major: np.ndarray | None = None,
    minor: np.ndarray | None = None,
    pa_deg: np.ndarray | None = None,
) -> np.ndarray:
    """det(C)^(1/4) of the radio positions alone (arcsec): one number for how well a source is located; NaN
    where its errors are unknown."""
    c_ee, c_nn, c_en = radio_covariance(ra_error, dec_error, major, minor, pa_deg)
    det = c_ee * c_nn - c_en**2
    return np.where(det > 0, np.sqrt(np.sqrt(np.abs(det))), np.nan)
