"""A sky at Gaia depth with quasars (issue 21): what a real RACS x Gaia DR3 run holds and SRSC x Hipparcos does not.

- ~15,000 stars per deg^2, most faint and distant (parallax 0.1-1 mas), with Gaia DR3-like errors growing
  with G (sigma_parallax ~0.03 mas at G = 15, ~0.5 mas at G = 20; sigma_mu ~0.9 sigma_parallax; positions
  ~0.7 sigma_parallax), tangential velocities of ~35 km/s, RUWE ~1 with a few per cent above 1.4;
- ~25 Gaia-detected quasars per deg^2 (G 18.5-21, parallax and motion zero within their errors);
- a few nearby (10-100 pc) stars per deg^2 that are not radio sources;
- a RACS-like survey: 1-2" errors, per-row epochs over 2019.3-2020.4, of which 1 % are radio stars (nearby
  stars, 10-100 pc, placed where the Earth sees them on their radio date: motion and annual parallax) and
  3 % have a Gaia quasar as their true counterpart; the rest are background sources with no counterpart in
  the catalogue.
Numpy (and astropy's Earth ephemeris); every draw from one seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tests.unit.crossmatch.xmatch_skies import fine_healpix

K_KMS = 4.74047  # km/s per (mas/yr x kpc)
STAR_EPOCH = 2016.0
RADIO_EPOCHS = (2019.3, 2020.4)


@dataclass(frozen=True)
class GaiaDepthSky:
    radio: pd.DataFrame  # canonical radio catalogue
    stars: pd.DataFrame  # canonical stellar catalogue (Gaia-like columns, ruwe, phot_g_mean_mag)
    truth: pd.DataFrame  # radio_id, star_id, kind ('star' or 'quasar')


def _cap(rng: np.random.Generator, n: int, ra0: float, dec0: float, radius_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Uniform positions in a spherical cap."""
    cos_r = np.cos(np.radians(radius_deg))
    z = rng.uniform(cos_r, 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - z**2)
    x, y = s * np.cos(phi), s * np.sin(phi)  # cap around +z, then rotated to (ra0, dec0)
    d0, a0 = np.radians(dec0), np.radians(ra0)
    xr = x * np.sin(d0) + z * np.cos(d0)
    zr = -x * np.cos(d0) + z * np.sin(d0)
    xf, yf = xr * np.cos(a0) - y * np.sin(a0), xr * np.sin(a0) + y * np.cos(a0)
    return np.degrees(np.arctan2(yf, xf)) % 360.0, np.degrees(np.arcsin(np.clip(zr, -1, 1)))


def _within(ra: np.ndarray, dec: np.ndarray, centre: tuple[float, float], radius_deg: float) -> np.ndarray:
    """Which positions lie inside the cap (a hair's tolerance: every source drawn in the cap itself is in)."""
    a, d, a0, d0 = np.radians(ra), np.radians(dec), np.radians(centre[0]), np.radians(centre[1])
    cos_sep = np.sin(d) * np.sin(d0) + np.cos(d) * np.cos(d0) * np.cos(a - a0)
    return cos_sep >= np.cos(np.radians(radius_deg)) - 1e-12


def _seen_from_earth(ra: np.ndarray, dec: np.ndarray, parallax_mas: np.ndarray, epoch_jyear: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Where the Earth sees a star of true parallax `parallax_mas` on each radio date (annual parallax; up to
    0.1" for these 10-100 pc stars): direction p - parallax * b, b the Earth's barycentric position from
    astropy's get_body_barycentric (independent of the engine's ERFA call)."""
    import astropy.units as u
    from astropy.coordinates import get_body_barycentric
    from astropy.time import Time

    a, d = np.radians(ra), np.radians(dec)
    p = np.stack([np.cos(d) * np.cos(a), np.cos(d) * np.sin(a), np.sin(d)], axis=-1)
    b = get_body_barycentric("earth", Time(epoch_jyear, format="jyear", scale="tdb")).get_xyz().to_value(u.AU).T
    v = p - (parallax_mas / 1e3 / 206264.80624709636)[:, None] * b
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(v[:, 1], v[:, 0])) % 360.0, np.degrees(np.arcsin(np.clip(v[:, 2], -1, 1)))


def _astrometry(rng: np.random.Generator, g: np.ndarray, dist_kpc: np.ndarray | None, ruwe_high: float) -> dict:
    """Observed parallax, motion and errors for true distances (None: a quasar, at infinity, not moving)."""
    n = g.size
    sig = np.clip(0.03 * 10 ** (0.25 * (g - 15.0)), 0.012, 1.5)  # parallax error, mas
    sig_pm = 0.9 * sig
    if dist_kpc is None:
        plx_true, pmra_true, pmdec_true = np.zeros(n), np.zeros(n), np.zeros(n)
    else:
        plx_true = 1.0 / dist_kpc
        pmra_true = rng.normal(0, 35, n) / (K_KMS * dist_kpc)
        pmdec_true = rng.normal(0, 35, n) / (K_KMS * dist_kpc)
    ruwe = np.where(rng.random(n) < ruwe_high, rng.uniform(1.4, 3.0, n), rng.normal(1.0, 0.06, n))
    return {
        "parallax": plx_true + rng.normal(0, 1, n) * sig - 0.017,  # Gaia DR3's global zero-point
        "parallax_error": sig,
        "pmra": pmra_true + rng.normal(0, 1, n) * sig_pm,
        "pmdec": pmdec_true + rng.normal(0, 1, n) * sig_pm,
        "pmra_error": sig_pm,
        "pmdec_error": sig_pm,
        "ra_error": 0.7 * sig / 1e3,  # arcsec
        "dec_error": 0.7 * sig / 1e3,
        "ruwe": ruwe,
        "phot_g_mean_mag": g,
        "_pmra_true": pmra_true,
        "_pmdec_true": pmdec_true,
        "_plx_true": plx_true,
    }


def gaia_depth_sky(
    seed: int = 21,
    radius_deg: float = 3.0,
    stars_per_deg2: float = 15_000.0,
    quasars_per_deg2: float = 25.0,
    nearby_per_deg2: float = 10.0,
    radio_per_deg2: float = 500.0,
    radio_star_fraction: float = 0.01,
    quasar_counterpart_fraction: float = 0.03,
    ruwe_high_fraction: float = 0.03,
    centre: tuple[float, float] = (150.0, 55.0),
    radio_sigma_arcsec: tuple[float, float] = (1.0, 2.0),
    star_margin_deg: float = 0.0,
) -> GaiaDepthSky:
    """The sky: radio sources in a cap of `radius_deg`, catalogue sources in a cap `star_margin_deg` wider.

    Why a margin: Gaia covers the whole sky, and the density around a radio source near the radio footprint's
    edge is counted over a ~1.4 deg neighbourhood (3x3 HEALPix pixels at the density order); catalogue
    sources that stop at the footprint's edge make that density too low there (by ~20 % on a 1.5 deg cap) and
    the posteriors overconfident, an artefact of the test sky, not of the survey."""
    rng = np.random.default_rng(seed)

    def cap_area(r: float) -> float:
        return 2 * np.pi * (1 - np.cos(np.radians(r))) * (180 / np.pi) ** 2

    area, star_radius = cap_area(radius_deg), radius_deg + star_margin_deg
    star_area = cap_area(star_radius)
    n_field, n_qso = int(stars_per_deg2 * star_area), int(quasars_per_deg2 * star_area)
    n_radio = int(radio_per_deg2 * area)
    n_rs, n_qc = int(round(radio_star_fraction * n_radio)), int(round(quasar_counterpart_fraction * n_radio))
    n_near = int(nearby_per_deg2 * star_area) + n_rs  # the first n_rs nearby stars in the footprint radiate

    # field stars: faint and distant (parallax ~0.1-1 mas)
    g_field = 21.0 - 6.0 * rng.random(n_field) ** 2
    d_field = np.clip(rng.lognormal(np.log(2.0), 0.6, n_field), 0.3, 30.0)
    # nearby stars, uniform in volume over 10-100 pc, M dwarfs to early K (M_G 6-13)
    d_near = (rng.uniform(0.01**3, 0.1**3, n_near)) ** (1 / 3)
    g_near = rng.uniform(6.0, 13.0, n_near) + 5 * np.log10(d_near * 100.0)
    g_qso = rng.uniform(18.5, 21.0, n_qso)
    parts = [
        ("field", *_cap(rng, n_field, *centre, star_radius), _astrometry(rng, g_field, d_field, ruwe_high_fraction)),
        ("near", *_cap(rng, n_near, *centre, star_radius), _astrometry(rng, g_near, d_near, ruwe_high_fraction)),
        ("qso", *_cap(rng, n_qso, *centre, star_radius), _astrometry(rng, g_qso, None, 0.0)),
    ]
    frames = []
    for kind, ra, dec, ast in parts:
        frames.append(pd.DataFrame({"kind": kind, "ra": ra, "dec": dec, "epoch": STAR_EPOCH, **ast}))
    stars = pd.concat(frames, ignore_index=True)
    stars["source_id"] = "gaia_sim:" + pd.Series(rng.permutation(len(stars))).astype(str)
    stars["healpix"] = fine_healpix(stars["ra"].to_numpy(), stars["dec"].to_numpy())

    # the radio survey: radio stars, quasar counterparts, background
    sigma = rng.uniform(*radio_sigma_arcsec, n_radio)  # arcsec, per axis
    epoch = rng.uniform(*RADIO_EPOCHS, n_radio)
    ra_bg, dec_bg = _cap(rng, n_radio, *centre, radius_deg)
    host = np.full(n_radio, -1)
    inside = _within(stars["ra"].to_numpy(), stars["dec"].to_numpy(), centre, radius_deg)
    near_idx = np.flatnonzero((stars["kind"].to_numpy() == "near") & inside)[:n_rs]
    qso_idx = np.flatnonzero((stars["kind"].to_numpy() == "qso") & inside)
    if n_rs > near_idx.size or n_qc > qso_idx.size:
        raise ValueError("more radio stars or quasar counterparts than nearby stars or quasars in the footprint")
    qso_idx = rng.choice(qso_idx, n_qc, replace=False)
    host[:n_rs], host[n_rs:n_rs + n_qc] = near_idx, qso_idx
    has = host >= 0
    h = stars.iloc[host[has]]
    dt = epoch[has] - STAR_EPOCH
    cos_dec = np.cos(np.radians(h["dec"].to_numpy()))
    ra_true = h["ra"].to_numpy() + h["_pmra_true"].to_numpy() * dt / 3.6e6 / cos_dec
    dec_true = h["dec"].to_numpy() + h["_pmdec_true"].to_numpy() * dt / 3.6e6
    ra_true, dec_true = _seen_from_earth(ra_true, dec_true, h["_plx_true"].to_numpy(), epoch[has])
    ra = ra_bg.copy()
    dec = dec_bg.copy()
    ra[has], dec[has] = ra_true, dec_true
    ra = ra + rng.normal(0, 1, n_radio) * sigma / 3600.0 / np.cos(np.radians(dec))
    dec = dec + rng.normal(0, 1, n_radio) * sigma / 3600.0
    radio_ids = "racs_sim:" + pd.Series(rng.permutation(n_radio)).astype(str)
    radio = pd.DataFrame({
        "source_id": radio_ids, "ra": ra % 360.0, "dec": dec, "ra_error": sigma, "dec_error": sigma,
        "epoch": epoch,
    })
    radio["healpix"] = fine_healpix(radio["ra"].to_numpy(), radio["dec"].to_numpy())
    truth = pd.DataFrame({
        "radio_id": radio_ids[has].to_numpy(),
        "star_id": h["source_id"].to_numpy(),
        "kind": np.where(h["kind"].to_numpy() == "qso", "quasar", "star"),
    })
    stars = stars.drop(columns=["_pmra_true", "_pmdec_true", "_plx_true"])
    return GaiaDepthSky(radio, stars, truth)


def grade_figures(best: pd.DataFrame, grades: pd.Series, truth: pd.DataFrame) -> dict[str, float]:
    """The issue's figures from a run's best pairs and their grades: recall of the radio stars at the two top
    grades, purity of the top grades, quasar counterparts and chance stars graded as radio stars."""
    b = best.assign(grade=grades.to_numpy()).merge(truth, on="radio_id", how="left", suffixes=("", "_true"))
    top = b["grade"].isin(["A", "B"]).to_numpy()
    right = (b["star_id"] == b["star_id_true"]).to_numpy()
    is_star = (b["kind"] == "star").to_numpy()
    radio_stars = int((truth["kind"] == "star").sum())
    return {
        "radio_stars": radio_stars,
        "recall_top": float((top & right & is_star).sum() / radio_stars),
        "grade_a": int((top & (b["grade"] == "A").to_numpy() & right & is_star).sum()),
        "top": int(top.sum()),
        "purity_top": float((top & right & is_star).sum() / max(top.sum(), 1)),
        "quasars_top": int((top & (b["kind"] == "quasar").to_numpy()).sum()),
        "quasar_hosts_top": int((top & b["star_id"].isin(truth.loc[truth["kind"] == "quasar", "star_id"])).sum()),
        "chance_top": int((top & ~(right & is_star)).sum()),
    }
