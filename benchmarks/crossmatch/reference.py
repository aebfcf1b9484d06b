"""The pair sets the crossmatch benchmark checks every timed run against (computed untimed, once per data set).

A benchmark that times a wrong answer proves nothing, so each engine's pairs are compared with a reference
built only from astropy, independent of radiolake.crossmatch:

- `moved`: each star moved to its radio row's epoch (`SkyCoord.apply_space_motion`, zero radial velocity) and,
  with a positive parallax, seen from the Earth on that date (its position at 1/parallax minus the Earth's
  barycentric position, `get_body_barycentric`), then astropy's separation decides. This is what `radiolake
  crossmatch` computes: it must equal it.
- `static`: the same candidates at catalogue positions, what a peer without epoch propagation (astropy's
  `search_around_sky` as timed, LSDB) computes: such a peer must equal it.

Pairs within `TIE_ARCSEC` of the radius may fall either way (floating-point ties) and are not counted as
differences.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Separation differences below this (arcsec) at the radius are floating-point ties, not disagreements.
TIE_ARCSEC = 1e-6
_CANDIDATES = "reference_pairs.parquet"


@dataclass(frozen=True)
class PairCheck:
    """How one engine's pairs compare with a reference: counts of pairs missing and extra (ties excluded)."""

    engine: str
    reference: str
    n_pairs: int
    missing: int
    extra: int
    example: str = ""

    @property
    def ok(self) -> bool:
        return self.missing == 0 and self.extra == 0

    def line(self) -> str:
        verdict = ("identical" if self.ok
                   else f"DIFFERENT: {self.missing} missing, {self.extra} extra, e.g. {self.example}")
        return f"{self.engine}: {self.n_pairs:,} pairs vs the {self.reference} reference: {verdict}"


#: Stars that can move further than this (arcsec) between their epoch and a radio epoch are searched apart,
#: with their own wider radius, so a few fast movers do not widen everyone's candidate search.
_SLOW_ARCSEC = 10.0


def reference_candidates(folder: Path, radius_arcsec: float) -> pa.Table:
    """radio_id, star_id, sep_static, sep_moved (arcsec) of every pair either reference keeps.

    Computed star file by star file (`folder/stars`, pixel files), with the radio rows inside that file's
    bounding box plus the search margin, so memory stays one file's worth at any size; cached in `folder`
    (the data never change once generated)."""
    cache = folder / f"{radius_arcsec:g}-{_CANDIDATES}"
    if cache.exists():
        return pq.read_table(cache)
    radio = pq.read_table(folder / "radio.parquet", columns=["source_id", "ra", "dec", "epoch"])
    r = {c: radio[c].to_numpy() for c in ("ra", "dec", "epoch")}
    parts = []
    for path in sorted((folder / "stars").rglob("*.parquet")):
        stars = pq.read_table(path, columns=["source_id", "ra", "dec", "epoch", "pmra", "pmdec", "parallax"])
        s = {c: stars[c].to_numpy() for c in ("ra", "dec", "epoch", "pmra", "pmdec", "parallax")}
        has_pm = np.isfinite(s["pmra"]) & np.isfinite(s["pmdec"])
        pm_tot = np.where(has_pm, np.hypot(np.nan_to_num(s["pmra"]), np.nan_to_num(s["pmdec"])), 0.0)
        max_dt = max(abs(r["epoch"].max() - s["epoch"].min()), abs(s["epoch"].max() - r["epoch"].min()))
        # arcsec: proper motion over the widest epoch gap, plus the Earth's orbit seen from the star
        reach = pm_tot * max_dt / 1000.0 + np.where(s["parallax"] > 0, s["parallax"], 0.0) * 1.03 / 1000.0
        for group in (reach <= _SLOW_ARCSEC, reach > _SLOW_ARCSEC):
            if group.any():
                coarse = radius_arcsec + reach[group].max() + 1e-3
                parts.append(_candidates(radio, r, stars.filter(pa.array(group)),
                                         {k: v[group] for k, v in s.items()}, coarse, radius_arcsec))
    table = pa.concat_tables(parts) if parts else pa.table({"radio_id": pa.array([], pa.string()),
                                                             "star_id": pa.array([], pa.string()),
                                                             "sep_static": pa.array([], pa.float64()),
                                                             "sep_moved": pa.array([], pa.float64())})
    pq.write_table(table, cache)
    return table


def _candidates(radio: pa.Table, r: dict, stars: pa.Table, s: dict, coarse: float, radius_arcsec: float) -> pa.Table:
    """Pairs of these stars with the radio rows near them: separations at catalogue positions and after each
    star is moved by astropy to its radio row's epoch."""
    from astropy import units as u
    from astropy.coordinates import CartesianRepresentation, SkyCoord, get_body_barycentric, search_around_sky
    from astropy.time import Time

    near = _radio_near(r, s, coarse / 3600.0)
    rc = SkyCoord(r["ra"][near] * u.deg, r["dec"][near] * u.deg)
    sc = SkyCoord(s["ra"] * u.deg, s["dec"] * u.deg)
    i, j, sep_static, _ = search_around_sky(rc, sc, coarse * u.arcsec)
    epoch = r["epoch"][near][i]
    ra, dec = s["ra"][j].copy(), s["dec"][j].copy()
    mov = np.isfinite(s["pmra"][j]) & np.isfinite(s["pmdec"][j])
    if mov.any():
        moving = SkyCoord(ra=ra[mov] * u.deg, dec=dec[mov] * u.deg,
                          pm_ra_cosdec=s["pmra"][j][mov] * u.mas / u.yr, pm_dec=s["pmdec"][j][mov] * u.mas / u.yr,
                          obstime=Time(s["epoch"][j][mov], format="jyear"),
                          # explicit, with zero RV: ERFA's substitute distance leaves stars unmoved at a pole
                          distance=1 * u.kpc,
                          radial_velocity=0 * u.km / u.s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ERFA's note that the distance was overridden
            moved = moving.apply_space_motion(new_obstime=Time(epoch[mov], format="jyear"))
        ra[mov], dec[mov] = moved.ra.deg, moved.dec.deg
    plx = s["parallax"][j]
    seen = np.isfinite(plx) & (plx > 0)
    if seen.any():
        star_au = SkyCoord(ra[seen] * u.deg, dec[seen] * u.deg).cartesian.xyz.to_value() / np.radians(
            plx[seen] / 3.6e6)
        earth = get_body_barycentric("earth", Time(epoch[seen], format="jyear")).xyz.to_value(u.au)
        from_earth = SkyCoord(CartesianRepresentation(star_au - earth))
        ra[seen], dec[seen] = from_earth.ra.deg, from_earth.dec.deg
    sep_moved = rc[i].separation(SkyCoord(ra * u.deg, dec * u.deg)).to_value(u.arcsec)
    sep_static = sep_static.to_value(u.arcsec)
    keep = np.minimum(sep_static, sep_moved) <= radius_arcsec + TIE_ARCSEC
    return pa.table({
        "radio_id": radio["source_id"].take(pa.array(np.flatnonzero(near)[i[keep]])),
        "star_id": stars["source_id"].take(pa.array(j[keep])),
        "sep_static": sep_static[keep],
        "sep_moved": sep_moved[keep],
    })


def _radio_near(r: dict, s: dict, margin_deg: float) -> np.ndarray:
    """Radio rows inside the stars' RA/Dec bounding box widened by `margin_deg` (all rows if it wraps RA 0/360
    or reaches a pole)."""
    lo, hi = s["dec"].min() - margin_deg, s["dec"].max() + margin_deg
    if lo <= -89.0 or hi >= 89.0 or np.ptp(s["ra"]) > 180.0:
        return np.ones(r["ra"].size, dtype=bool)
    widen = margin_deg / np.cos(np.radians(max(abs(lo), abs(hi))))
    return ((r["dec"] >= lo) & (r["dec"] <= hi) & (r["ra"] >= s["ra"].min() - widen)
            & (r["ra"] <= s["ra"].max() + widen))


def check_pairs(engine: str, found: pa.Table, candidates: pa.Table, radius_arcsec: float, moved: bool) -> PairCheck:
    """Compare `found` (radio_id, star_id) with the `moved` or `static` reference; ties at the radius excluded."""
    sep = candidates["sep_moved" if moved else "sep_static"].to_numpy()
    tie = np.abs(sep - radius_arcsec) <= TIE_ARCSEC
    ref_keys = _keys(candidates)
    expected = set(ref_keys[(sep <= radius_arcsec) & ~tie])
    ties = set(ref_keys[tie])
    got_list = _keys(found)
    got = set(got_list)
    missing = expected - got
    extra = got - expected - ties
    duplicates = len(got_list) - len(got)
    example = ", ".join(sorted(missing)[:2] + sorted(extra)[:2])
    return PairCheck(engine, "moved" if moved else "static", len(got_list), len(missing),
                     len(extra) + duplicates, example)


def _keys(table: pa.Table) -> np.ndarray:
    """'radio_id|star_id' strings, vectorised in Arrow."""
    import pyarrow.compute as pc

    joined = pc.binary_join_element_wise(table["radio_id"].cast(pa.string()), table["star_id"].cast(pa.string()),
                                         "|")
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)
