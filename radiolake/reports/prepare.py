"""The numbers behind the report pictures, kept apart from matplotlib so tests can check them directly.

Each helper takes plain DataFrames/arrays (canonical column names from `radiolake.schema`, pair columns from
`radiolake.results`), so the pipeline can feed them from the xmatch Parquet or from the warehouse marts.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

#: Footprints larger than this (deg²) are drawn as a whole-sky Mollweide map instead of a zoom.
WIDE_FOOTPRINT_DEG2 = 1000.0
#: HEALPix order used to measure a footprint's area (pixels of ~3.4 deg²).
FOOTPRINT_ORDER = 5
#: Parallax signal-to-noise below which an absolute magnitude is too uncertain to plot.
MIN_PARALLAX_SNR = 5.0


def pixel_area_deg2(order: int) -> float:
    """Area of one HEALPix pixel at `order`, deg² (the sphere is 4π sr = 41252.96 deg²)."""
    return float((4 * np.pi * u.sr).to_value(u.deg**2)) / (12 * 4**order)


def footprint_area_deg2(ra: np.ndarray, dec: np.ndarray, order: int = FOOTPRINT_ORDER) -> float:
    """Sky area covered by the points: number of distinct HEALPix pixels they fall in × pixel area.

    Cheap and robust to holes and odd shapes, unlike a bounding box (which overstates a footprint that
    straddles RA 0/360 or the poles)."""
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    ok = np.isfinite(ra) & np.isfinite(dec)
    if not ok.any():
        return 0.0
    pix = nested.lonlat_to_healpix(Longitude(ra[ok], u.deg), Latitude(dec[ok], u.deg), order)
    return len(np.unique(pix)) * pixel_area_deg2(order)


def ra_cut(ra: np.ndarray) -> float:
    """RA (deg) in the middle of the widest empty RA interval: cutting there keeps the points contiguous.

    A footprint straddling RA 0/360 (e.g. 355..5) would otherwise be drawn as two slivers 350° apart."""
    ra = np.sort(np.mod(np.asarray(ra, float)[np.isfinite(ra)], 360.0))
    if ra.size == 0:
        return 0.0
    gaps = np.diff(np.concatenate([ra, [ra[0] + 360.0]]))  # last gap wraps around through 360
    i = int(np.argmax(gaps))
    return float(np.mod(ra[i] + gaps[i] / 2.0, 360.0))


def unwrap_ra(ra: np.ndarray, cut: float) -> np.ndarray:
    """RA moved into one contiguous interval starting at `cut`, written the way a reader expects.

    A footprint that crosses RA 0 comes out as negative..positive (355..5 reads -5..5); any other stays
    in [0, 360). Either way no point is separated from its neighbours by the wrap."""
    ra = np.asarray(ra, float)
    shifted = cut + np.mod(ra - cut, 360.0)  # in [cut, cut + 360): contiguous by construction
    if shifted.size == 0 or not np.isfinite(shifted).any():
        return shifted
    lo, hi = np.nanmin(shifted), np.nanmax(shifted)
    if np.floor(lo / 360.0) != np.floor(hi / 360.0):  # the points straddle RA 0/360
        return shifted - 360.0 * np.floor(hi / 360.0)
    return np.mod(shifted, 360.0)


@dataclass(frozen=True)
class CmdPoints:
    """Colour–magnitude points: BP−RP (mag) and absolute G (mag), only for stars with a good parallax."""

    bp_rp: np.ndarray
    abs_g: np.ndarray
    n_input: int  # rows offered, before the parallax S/N and completeness cuts

    @property
    def n_plotted(self) -> int:
        return int(self.bp_rp.size)


def colour(df: pd.DataFrame) -> np.ndarray:
    """BP−RP from the `bp_rp` column, else from the BP and RP magnitudes; NaN where unknown."""
    n = len(df)
    if "bp_rp" in df:
        values = pd.to_numeric(df["bp_rp"], errors="coerce").to_numpy(float, na_value=np.nan)
        if np.isfinite(values).any() or not {"phot_bp_mean_mag", "phot_rp_mean_mag"} <= set(df.columns):
            return values
    if {"phot_bp_mean_mag", "phot_rp_mean_mag"} <= set(df.columns):
        bp = pd.to_numeric(df["phot_bp_mean_mag"], errors="coerce").to_numpy(float, na_value=np.nan)
        rp = pd.to_numeric(df["phot_rp_mean_mag"], errors="coerce").to_numpy(float, na_value=np.nan)
        return bp - rp
    return np.full(n, np.nan)


def cmd_points(df: pd.DataFrame, min_parallax_snr: float = MIN_PARALLAX_SNR) -> CmdPoints:
    """Absolute G = G + 5 log10(parallax / mas) − 10 vs BP−RP, for rows with parallax/error > min S/N.

    Low-S/N parallaxes give absolute magnitudes off by magnitudes (and negative parallaxes none at all), so
    they are dropped rather than drawn misleadingly; so are rows missing G or a colour."""
    n = len(df)
    if n == 0 or not {"phot_g_mean_mag", "parallax", "parallax_error"} <= set(df.columns):
        return CmdPoints(np.empty(0), np.empty(0), n)

    def num(col: str) -> np.ndarray:
        return pd.to_numeric(df[col], errors="coerce").to_numpy(float, na_value=np.nan)

    g, plx, plx_err, bp_rp = num("phot_g_mean_mag"), num("parallax"), num("parallax_error"), colour(df)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = plx / plx_err
        good = (plx > 0) & (plx_err > 0) & (snr > min_parallax_snr) & np.isfinite(g) & np.isfinite(bp_rp)
        abs_g = g[good] + 5.0 * np.log10(plx[good]) - 10.0
    return CmdPoints(bp_rp[good], abs_g, n)


@dataclass(frozen=True)
class SeparationHistogram:
    """Observed pair counts per separation bin, and the chance counts expected from the offset skies."""

    edges: np.ndarray  # arcsec, len = bins + 1
    observed: np.ndarray  # pairs per bin in the real sky
    chance: np.ndarray  # offset-sky pairs per bin / n_offsets: expected chance pairs per bin
    n_offsets: int


def separation_histogram_data(
    pairs_sep_arcsec: np.ndarray, offset_sep_arcsec: np.ndarray, n_offsets: int, bins: int = 30,
    max_arcsec: float | None = None,
) -> SeparationHistogram:
    """Bin observed and offset-sky separations on the same edges; scale the offset counts by 1/n_offsets.

    Every offset sky is a full replica of the chance-match experiment, so their summed counts divided by
    the number of skies is the chance expectation in one sky: the curve to compare the real pairs with."""
    if n_offsets < 1:
        raise ValueError(f"n_offsets must be >= 1 (got {n_offsets}): the chance curve is counts / n_offsets")
    obs = np.asarray(pairs_sep_arcsec, float)
    off = np.asarray(offset_sep_arcsec, float)
    obs, off = obs[np.isfinite(obs)], off[np.isfinite(off)]
    if max_arcsec is None:
        both = np.concatenate([obs, off])
        max_arcsec = float(both.max()) if both.size else 1.0
    max_arcsec = max(float(max_arcsec), 1e-6)
    edges = np.linspace(0.0, max_arcsec, bins + 1)
    observed, _ = np.histogram(obs, bins=edges)
    offset_counts, _ = np.histogram(off, bins=edges)
    return SeparationHistogram(edges, observed, offset_counts / float(n_offsets), int(n_offsets))


def separation_histogram_from_offset_stats(
    best_sep_arcsec: np.ndarray, offset_stats: pd.DataFrame
) -> SeparationHistogram:
    """The same comparison from what a run persists: OFFSET_STATS_SCHEMA rows (`radiolake.results`).

    offset_stats holds, per region and per radius of a grid, the offset-sky sources whose *nearest* star is
    within that radius (cumulative); summed over regions and differenced between radii, divided by
    n_offsets, that is the chance count per radius bin. The observed side must then be nearest matches too:
    pass the separations of the best (rank-1) pairs."""
    if offset_stats.empty:
        raise ValueError("offset_stats is empty: the run had no offset skies to compare with")
    n_offsets = int(offset_stats["n_offsets"].iloc[0])
    if n_offsets < 1:
        raise ValueError(f"n_offsets must be >= 1 (got {n_offsets}): the chance curve is counts / n_offsets")
    cumulative = offset_stats.groupby("radius_arcsec")["false_matches_total"].sum().sort_index()
    edges = np.concatenate([[0.0], cumulative.index.to_numpy(float)])
    per_bin = np.diff(np.concatenate([[0], cumulative.to_numpy(float)]))
    obs = np.asarray(best_sep_arcsec, float)
    observed, _ = np.histogram(obs[np.isfinite(obs)], bins=edges)
    return SeparationHistogram(edges, observed, per_bin / float(n_offsets), n_offsets)


@dataclass(frozen=True)
class LightCurve:
    """One star's radio detections, split by observing frequency: flux (mJy) against epoch (Julian year)."""

    star_id: str
    label: str  # what the panel is titled with (star id, grade, evidence)
    by_freq: dict[float, pd.DataFrame]  # MHz -> rows sorted by epoch: epoch_jyear, flux_mjy, flux_error_mjy

    @property
    def n_detections(self) -> int:
        return sum(len(df) for df in self.by_freq.values())

    @property
    def n_epochs(self) -> int:
        """Distinct epochs over every frequency: a curve needs two to show a change in time."""
        return len({float(e) for df in self.by_freq.values() for e in df["epoch_jyear"]})


def split_by_epochs(curves: list[LightCurve]) -> tuple[list[LightCurve], list[LightCurve]]:
    """(stars with two or more epochs: plotted, stars with one: listed in a table instead)."""
    return [c for c in curves if c.n_epochs >= 2], [c for c in curves if c.n_epochs < 2]


def light_curves(detections: pd.DataFrame, stars: pd.DataFrame | None = None) -> list[LightCurve]:
    """Light curves from radio_star_detections rows (`star_id`, `epoch_jyear`, `freq_mhz`, `flux_mjy`,
    optional `flux_error_mjy`), one per star, in the order the stars first appear in `stars` (or in the
    detections). Rows without a flux or an epoch cannot be drawn and are left out; an unknown frequency
    becomes its own NaN group rather than being merged with a known one."""
    if detections.empty:
        return []
    order = list(dict.fromkeys((stars if stars is not None and len(stars) else detections)["star_id"]))
    labels = {}
    if stars is not None and len(stars):
        for row in stars.itertuples(index=False):
            parts = [str(row.star_id)]
            if getattr(row, "star_grade", None):
                parts.append(f"grade {row.star_grade}")
            if getattr(row, "star_evidence", None) not in (None, "none"):
                parts.append(str(row.star_evidence))
            labels[row.star_id] = ", ".join(parts)
    det = detections.copy()
    if "flux_error_mjy" not in det:
        det["flux_error_mjy"] = np.nan
    for col in ("epoch_jyear", "freq_mhz", "flux_mjy", "flux_error_mjy"):
        det[col] = pd.to_numeric(det[col], errors="coerce")
    det = det[np.isfinite(det["epoch_jyear"]) & np.isfinite(det["flux_mjy"])]
    out = []
    for star_id in order:
        rows = det[det["star_id"] == star_id]
        if rows.empty:
            continue
        by_freq = {float(f): g.sort_values("epoch_jyear")[["epoch_jyear", "flux_mjy", "flux_error_mjy"]]
                   .reset_index(drop=True)
                   for f, g in rows.groupby("freq_mhz", dropna=False)}
        out.append(LightCurve(star_id, labels.get(star_id, str(star_id)), by_freq))
    return out
