"""Small synthetic skies and the astropy reference pair search for the cross-match tests.

Kept in the test tree on purpose: the reference must be independent of the code under test, so it uses only
astropy (apply_space_motion, search_around_sky), never radiolake.crossmatch.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from astropy import units as u
from astropy.coordinates import CartesianRepresentation, SkyCoord, get_body_barycentric, search_around_sky
from astropy.time import Time
from cdshealpix import nested

from radiolake.schema import HEALPIX_ORDER


def fine_healpix(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """The canonical `healpix` column (nested, order 29), as ingest writes it."""
    from astropy.coordinates import Latitude, Longitude

    return nested.lonlat_to_healpix(Longitude(ra, unit=u.deg), Latitude(dec, unit=u.deg), HEALPIX_ORDER).astype(
        np.int64
    )


def catalogue(prefix: str, ra, dec, epoch, *, ra_error=None, dec_error=None, pmra=None, pmdec=None) -> pd.DataFrame:
    """A canonical-schema frame from arrays (missing optional columns become NaN)."""
    ra = np.asarray(ra, dtype=np.float64) % 360.0
    dec = np.asarray(dec, dtype=np.float64)
    n = ra.size

    def col(v, default=np.nan):
        return np.full(n, default) if v is None else np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)).copy()

    return pd.DataFrame(
        {
            "source_id": [f"{prefix}:{i}" for i in range(n)],
            "ra": ra,
            "dec": dec,
            "ra_error": col(ra_error),
            "dec_error": col(dec_error),
            "epoch": col(epoch),
            "pmra": col(pmra),
            "pmdec": col(pmdec),
            "parallax": col(None),
            "parallax_error": col(None),
            "healpix": fine_healpix(ra, dec),
        }
    )


def astropy_pairs(radio: pd.DataFrame, stars: pd.DataFrame, radius_arcsec: float) -> dict[tuple[str, str], float]:
    """{(radio_id, star_id): separation arcsec}, each star moved to each radio row's epoch by astropy.

    Candidates come from search_around_sky at catalogue positions with the radius widened by the largest
    possible proper-motion displacement; each candidate star is then moved with apply_space_motion to its
    radio row's epoch and the astropy separation decides. A star with a positive `parallax` (mas) is then seen
    from the Earth on that date: its position at 1/parallax minus the Earth's barycentric position
    (get_body_barycentric), the engine's model of annual parallax.
    """
    has_pm = (stars["pmra"].notna() & stars["pmdec"].notna()).to_numpy()
    pm_tot = np.where(has_pm, np.hypot(stars["pmra"].fillna(0), stars["pmdec"].fillna(0)), 0.0)
    if len(radio) == 0 or len(stars) == 0:
        return {}
    max_dt = max(abs(radio["epoch"].max() - stars["epoch"].min()), abs(stars["epoch"].max() - radio["epoch"].min()))
    plx = stars["parallax"].to_numpy(np.float64) if "parallax" in stars else np.full(len(stars), np.nan)
    plx_max = float(np.nanmax(plx, initial=0.0)) * 1.03 / 1000.0  # the Earth's orbit seen from the star (arcsec)
    coarse = radius_arcsec + pm_tot.max() * max_dt / 1000.0 + plx_max + 1e-3
    rc = SkyCoord(radio["ra"].to_numpy() * u.deg, radio["dec"].to_numpy() * u.deg)
    sc = SkyCoord(stars["ra"].to_numpy() * u.deg, stars["dec"].to_numpy() * u.deg)
    i, j, _, _ = search_around_sky(rc, sc, coarse * u.arcsec)
    ra = stars["ra"].to_numpy()[j]
    dec = stars["dec"].to_numpy()[j]
    mov = has_pm[j]
    if mov.any():
        moving = SkyCoord(
            ra=ra[mov] * u.deg,
            dec=dec[mov] * u.deg,
            pm_ra_cosdec=stars["pmra"].to_numpy()[j][mov] * u.mas / u.yr,
            pm_dec=stars["pmdec"].to_numpy()[j][mov] * u.mas / u.yr,
            obstime=Time(stars["epoch"].to_numpy()[j][mov], format="jyear"),
            distance=1 * u.kpc,  # explicit (and zero RV): ERFA's substitute distance leaves stars unmoved near a pole
            radial_velocity=0 * u.km / u.s,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA notes that the missing distance was overridden
            moved = moving.apply_space_motion(new_obstime=Time(radio["epoch"].to_numpy()[i][mov], format="jyear"))
        ra[mov], dec[mov] = moved.ra.deg, moved.dec.deg
    near = np.isfinite(plx[j]) & (plx[j] > 0)
    if near.any():
        star_au = SkyCoord(ra[near] * u.deg, dec[near] * u.deg).cartesian.xyz.to_value() / np.radians(
            plx[j][near] / 3.6e6)
        earth = get_body_barycentric("earth", Time(radio["epoch"].to_numpy()[i][near], format="jyear"))
        seen = SkyCoord(CartesianRepresentation(star_au - earth.xyz.to_value(u.au)))
        ra[near], dec[near] = seen.ra.deg, seen.dec.deg
    sep = rc[i].separation(SkyCoord(ra * u.deg, dec * u.deg)).to_value(u.arcsec)
    keep = sep <= radius_arcsec
    rid = radio["source_id"].to_numpy()[i[keep]]
    sid = stars["source_id"].to_numpy()[j[keep]]
    return {(a, b): float(s) for a, b, s in zip(rid, sid, sep[keep], strict=True)}


def assert_same_pairs(
    found: pd.DataFrame, expected: dict[tuple[str, str], float], radius_arcsec: float, tol_arcsec: float = 1e-6
) -> None:
    """Equal pair sets, except pairs within `tol_arcsec` of the radius (floating-point ties either way)."""
    got = {(a, b): s for a, b, s in zip(found["radio_id"], found["star_id"], found["separation_arcsec"], strict=True)}
    assert len(got) == len(found), "a pair was reported twice"
    missing = {k: v for k, v in expected.items() if k not in got and abs(v - radius_arcsec) > tol_arcsec}
    extra = {k: v for k, v in got.items() if k not in expected and abs(v - radius_arcsec) > tol_arcsec}
    assert not missing, f"{len(missing)} pairs astropy finds are missing, e.g. {list(missing.items())[:3]}"
    assert not extra, f"{len(extra)} pairs astropy does not find, e.g. {list(extra.items())[:3]}"
    for k, s in got.items():
        if k in expected:
            assert abs(s - expected[k]) < tol_arcsec, (k, s, expected[k])


def cluster(
    rng: np.random.Generator, n: int, ra0: float, dec0: float, size_arcsec: float
) -> tuple[np.ndarray, np.ndarray]:
    """n points scattered around (ra0, dec0) within ~size_arcsec, tangent-plane Gaussian."""
    c = SkyCoord(ra0 * u.deg, dec0 * u.deg)
    pa = rng.uniform(0, 360, n) * u.deg
    sep = np.abs(rng.normal(0, size_arcsec, n)) * u.arcsec
    p = c.directional_offset_by(pa, sep)
    return p.ra.deg, p.dec.deg
