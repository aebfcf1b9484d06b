"""The pictures of a cross-match run, as PNG bytes: sky map, colour–magnitude diagram, separation histogram.

matplotlib's Agg backend (no display in tasks or tests) through the object-oriented API only: no pyplot
global state, so plots made in parallel tasks cannot draw into each other's figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np
import pandas as pd
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from radiolake.reports.prepare import (
    MIN_PARALLAX_SNR,
    WIDE_FOOTPRINT_DEG2,
    LightCurve,
    SeparationHistogram,
    cmd_points,
    footprint_area_deg2,
    pixel_area_deg2,
    ra_cut,
    separation_histogram_data,
    separation_histogram_from_offset_stats,
    unwrap_ra,
)

DPI = 110
FIGSIZE = (8.0, 6.0)
#: HEALPix order of the whole-sky density map (pixels of ~0.84 deg² at 6).
MOLLWEIDE_ORDER = 6  # the finest used; fewer stars give a coarser map


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _radec(df: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if df is None or len(df) == 0:
        return np.empty(0), np.empty(0)
    return df["ra"].to_numpy(float), df["dec"].to_numpy(float)


def _weights(df: pd.DataFrame | None) -> np.ndarray | None:
    """Optional `count` column: lets the caller pass pre-aggregated densities (e.g. per pixel from SQL)."""
    if df is not None and "count" in df:
        return df["count"].to_numpy(float)
    return None


def sky_map(
    radio: pd.DataFrame,
    candidates: pd.DataFrame,
    stars_density: pd.DataFrame | None = None,
    *,
    title: str = "Radio sources and radio-star candidates",
    wide_threshold_deg2: float = WIDE_FOOTPRINT_DEG2,
) -> bytes:
    """Radio sources and candidates over the stellar density.

    `stars_density`: star positions (`ra`, `dec`), optionally with a `count` column when they are already
    aggregated (e.g. pixel centres with star counts). A footprint up to `wide_threshold_deg2` is drawn as a
    zoom in RA/Dec (RA increasing to the left, wrap at 0/360 handled); a wider one as a Mollweide map."""
    ra, dec = _radec(radio)
    area = footprint_area_deg2(ra, dec)
    if area > wide_threshold_deg2:
        return _sky_mollweide(radio, candidates, stars_density, title, area)
    return _sky_zoom(radio, candidates, stars_density, title, area)


def _sky_zoom(radio, candidates, stars, title: str, area: float) -> bytes:
    r_ra, r_dec = _radec(radio)
    c_ra, c_dec = _radec(candidates)
    s_ra, s_dec = _radec(stars)
    cut = ra_cut(np.concatenate([r_ra, c_ra])) if r_ra.size + c_ra.size else 0.0
    r_x, c_x = unwrap_ra(r_ra, cut), unwrap_ra(c_ra, cut)
    xs = np.concatenate([r_x, c_x])
    ys = np.concatenate([r_dec, c_dec])
    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_subplot()
    if xs.size:
        pad_x = max(0.05 * np.ptp(xs), 0.02)
        pad_y = max(0.05 * np.ptp(ys), 0.02)
        x_lo, x_hi = xs.min() - pad_x, xs.max() + pad_x
        y_lo, y_hi = max(ys.min() - pad_y, -90.0), min(ys.max() + pad_y, 90.0)
    else:
        x_lo, x_hi, y_lo, y_hi = 0.0, 360.0, -90.0, 90.0
    if s_ra.size:
        # The stars are moved onto the same unwrapped axis; the offset by a whole turn matches the points.
        s_x = unwrap_ra(s_ra, cut)
        if r_x.size and np.nanmin(r_x) < 0:
            s_x = np.where(s_x > 180.0, s_x - 360.0, s_x)
        nb = int(np.clip(np.sqrt(s_ra.size / 8.0), 10, 80))  # ~8 stars a cell on average: a smooth density
        h, xe, ye = np.histogram2d(s_x, s_dec, bins=nb, range=[[x_lo, x_hi], [y_lo, y_hi]],
                                   weights=_weights(stars))
        # Cell area on the sky shrinks with cos(dec): divide it out so the colour is a true density.
        dec_mid = np.radians((ye[:-1] + ye[1:]) / 2)
        cell = np.outer(np.full(nb, xe[1] - xe[0]), (ye[1] - ye[0]) * np.cos(dec_mid))
        density = np.where(h > 0, h / np.maximum(cell, 1e-12), np.nan)
        if np.isfinite(density).any():
            mesh = ax.pcolormesh(xe, ye, density.T, cmap="Greys", norm=LogNorm(), shading="flat")
            fig.colorbar(mesh, ax=ax, label="stars / deg²")
    ax.scatter(r_x, r_dec, s=6, c="tab:blue", alpha=0.6, linewidths=0, label=f"radio sources ({r_ra.size:,})")
    ax.scatter(c_x, c_dec, s=60, facecolors="none", edgecolors="tab:red", linewidths=1.4,
               label=f"radio-star candidates ({c_ra.size:,})")
    ax.set_xlim(x_hi, x_lo)  # RA grows to the east, drawn to the left as on the sky
    ax.set_ylim(y_lo, y_hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{np.mod(v, 360.0):g}"))
    ax.set_xlabel("RA (deg, ICRS)")
    ax.set_ylabel("Dec (deg, ICRS)")
    ax.set_title(f"{title}\nfootprint ≈ {area:,.0f} deg²")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _mollweide_x(ra_deg: np.ndarray) -> np.ndarray:
    """RA → Mollweide longitude in radians, RA 0 at the centre and growing to the left (sky convention)."""
    return -np.radians(np.mod(np.asarray(ra_deg, float) + 180.0, 360.0) - 180.0)


def _sky_mollweide(radio, candidates, stars, title: str, area: float) -> bytes:
    fig = Figure(figsize=(10.0, 6.0))
    ax = fig.add_subplot(projection="mollweide")
    s_ra, s_dec = _radec(stars)
    if s_ra.size:
        # Coarsen the pixels until there are ~10 stars per pixel on average, so sparse samples read as a map.
        total = float(_weights(stars).sum()) if _weights(stars) is not None else float(s_ra.size)
        order = int(np.clip(np.floor(np.log(max(total, 1.0) / 120.0) / np.log(4.0)), 1, MOLLWEIDE_ORDER))
        pix = nested.lonlat_to_healpix(Longitude(s_ra, u.deg), Latitude(s_dec, u.deg), order)
        counts = np.bincount(pix.astype(np.int64), weights=_weights(stars), minlength=12 * 4**order)
        density = counts / pixel_area_deg2(order)
        # Sample the HEALPix map on a lon/lat grid finer than its pixels, then draw the grid.
        lon_edges = np.linspace(-180.0, 180.0, 361)
        lat_edges = np.linspace(-90.0, 90.0, 181)
        lon_c, lat_c = np.meshgrid((lon_edges[:-1] + lon_edges[1:]) / 2, (lat_edges[:-1] + lat_edges[1:]) / 2)
        grid_pix = nested.lonlat_to_healpix(
            Longitude(np.mod(lon_c.ravel(), 360.0), u.deg), Latitude(lat_c.ravel(), u.deg), order
        )
        grid = density[grid_pix.astype(np.int64)].reshape(lon_c.shape)
        grid = np.where(grid > 0, grid, np.nan)
        if np.isfinite(grid).any():
            # x = -RA: flip the edges (and the data) so the mesh x-coordinates stay increasing.
            mesh = ax.pcolormesh(np.radians(lon_edges), np.radians(lat_edges), grid[:, ::-1], cmap="Greys",
                                 norm=LogNorm(), shading="flat", rasterized=True)
            fig.colorbar(mesh, ax=ax, shrink=0.6, pad=0.02, label=f"stars / deg² (HEALPix order {order})")
    r_ra, r_dec = _radec(radio)
    c_ra, c_dec = _radec(candidates)
    ax.scatter(_mollweide_x(r_ra), np.radians(r_dec), s=2, c="tab:blue", alpha=0.5, linewidths=0,
               label=f"radio sources ({r_ra.size:,})")
    ax.scatter(_mollweide_x(c_ra), np.radians(c_dec), s=30, facecolors="none", edgecolors="tab:red",
               linewidths=1.2, label=f"radio-star candidates ({c_ra.size:,})")
    ax.set_xticks(np.radians(np.arange(-150, 181, 30)))
    ax.set_xticklabels([f"{np.mod(-v, 360):g}°" for v in range(-150, 181, 30)], fontsize="small")
    ax.set_xlabel("RA (deg, ICRS; increasing to the left)")
    ax.set_ylabel("Dec (deg, ICRS)")
    ax.set_title(f"{title}\nwhole sky, footprint ≈ {area:,.0f} deg²", pad=18)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.85, bbox_to_anchor=(0.0, -0.08), ncols=2)
    fig.tight_layout()
    return _png(fig)


def cmd(candidates: pd.DataFrame, field_stars: pd.DataFrame, *,
        min_parallax_snr: float = MIN_PARALLAX_SNR, title: str = "Colour–magnitude diagram") -> bytes:
    """Absolute G vs BP−RP of the candidates over the field stars; only parallaxes with S/N > min are used.

    Columns: `phot_g_mean_mag`, `parallax`, `parallax_error`, and `bp_rp` (or BP and RP magnitudes)."""
    field = cmd_points(field_stars, min_parallax_snr)
    cand = cmd_points(candidates, min_parallax_snr)
    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_subplot()
    if field.n_plotted > 2000:  # a density of the field reads better than a cloud of dots
        hb = ax.hexbin(field.bp_rp, field.abs_g, gridsize=70, bins="log", cmap="Greys", mincnt=1)
        fig.colorbar(hb, ax=ax, label="field stars per cell")
        ax.plot([], [], "s", color="grey", label=f"field stars ({field.n_plotted:,})")
    else:
        ax.scatter(field.bp_rp, field.abs_g, s=4, c="grey", alpha=0.5, linewidths=0,
                   label=f"field stars ({field.n_plotted:,})")
    ax.scatter(cand.bp_rp, cand.abs_g, s=60, marker="*", c="tab:red", edgecolors="black", linewidths=0.5,
               label=f"candidates ({cand.n_plotted:,} of {cand.n_input:,})", zorder=3)
    if field.n_plotted + cand.n_plotted:
        ax.invert_yaxis()  # bright at the top, as every CMD
    else:
        ax.set_ylim(15, -5)
        ax.text(0.5, 0.5, "no star with a parallax S/N above the cut", transform=ax.transAxes, ha="center")
    ax.set_xlabel("BP − RP (mag)")
    ax.set_ylabel("absolute G magnitude $M_G$ (mag)")
    ax.set_title(f"{title}\nstars with parallax S/N > {min_parallax_snr:g}")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def separation_histogram(
    pairs_sep_arcsec: np.ndarray, offset_sep_arcsec: np.ndarray, n_offsets: int, *, bins: int = 30,
    max_arcsec: float | None = None, title: str = "Pair separations vs chance (offset skies)",
) -> bytes:
    """Observed pair separations with the chance distribution (offset-sky pairs / n_offsets) drawn over them.

    Real associations pile up at small separations; chance pairs grow ∝ r (area of the annulus), so where
    the bars exceed the line the matches are more than chance."""
    h = separation_histogram_data(pairs_sep_arcsec, offset_sep_arcsec, n_offsets, bins, max_arcsec)
    return _draw_separation_histogram(h, title)


def separation_histogram_from_stats(
    best_sep_arcsec: np.ndarray, offset_stats: pd.DataFrame, *,
    title: str = "Nearest-match separations vs chance (offset skies)",
) -> bytes:
    """The histogram from a run's persisted offset_stats (cumulative counts on a radius grid) and the
    separations of its best pairs; bins are the radius grid, so the chance counts are exact."""
    return _draw_separation_histogram(separation_histogram_from_offset_stats(best_sep_arcsec, offset_stats),
                                      title)


def _draw_separation_histogram(h: SeparationHistogram, title: str) -> bytes:
    fig = Figure(figsize=FIGSIZE)
    ax = fig.add_subplot()
    widths = np.diff(h.edges)
    # Bins may be unequal (a radius grid): draw counts per arcsec so bar heights compare fairly.
    equal = np.allclose(widths, widths[0])
    scale = np.ones_like(widths) if equal else 1.0 / widths
    ax.bar(h.edges[:-1], h.observed * scale, width=widths, align="edge", color="tab:blue", alpha=0.6,
           edgecolor="tab:blue", label=f"observed pairs ({int(h.observed.sum()):,})")
    ax.stairs(h.chance * scale, h.edges, color="tab:red", linewidth=2,
              label=f"chance: offset skies / {h.n_offsets} ({h.chance.sum():,.1f} expected)")
    ax.set_xlim(h.edges[0], h.edges[-1])
    ax.set_xlabel("separation (arcsec)")
    ax.set_ylabel(f"pairs per {widths[0]:.3g}″ bin" if equal else "pairs per arcsec")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def epoch_limits(epochs, min_span_years: float = 1.0) -> tuple[float, float]:
    """x-limits of a light curve: the epochs plus a margin, at least `min_span_years` wide (one point, or two
    close together, must not get an axis of decades, nor one of a day)."""
    values = np.asarray(list(epochs), dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 2000.0, 2000.0 + min_span_years
    lo, hi = float(values.min()), float(values.max())
    margin = max(0.08 * (hi - lo), (min_span_years - (hi - lo)) / 2, 0.0)
    return lo - margin, hi + margin


def light_curve_figure(curves: list[LightCurve], *, title: str = "Radio light curves of the top stars") -> bytes:
    """One panel per star: flux density against epoch, one colour and line per observing frequency (flux
    changes between frequencies are a spectrum, within one frequency variability). Error bars where known."""
    n = max(len(curves), 1)
    ncols = 1 if n == 1 else 2
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(FIGSIZE[0], max(4.0, 2.6 * nrows + 0.8)))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    freqs = sorted({f for c in curves for f in c.by_freq}, key=lambda f: (np.isnan(f), f))
    colours = {f: f"C{i % 10}" for i, f in enumerate(freqs)}
    for ax, curve in zip(axes, curves, strict=False):
        for freq, df in sorted(curve.by_freq.items(), key=lambda kv: (np.isnan(kv[0]), kv[0])):
            err = df["flux_error_mjy"].to_numpy(float)
            ax.errorbar(df["epoch_jyear"], df["flux_mjy"], yerr=np.where(np.isfinite(err), err, 0.0),
                        fmt="o-", ms=4, lw=1, capsize=2, color=colours[freq],
                        label="? MHz" if np.isnan(freq) else f"{freq:g} MHz")
        ax.set_title(curve.label, fontsize="small")
        ax.set_xlim(*epoch_limits([e for df in curve.by_freq.values() for e in df["epoch_jyear"]]))
        ax.xaxis.get_major_formatter().set_useOffset(False)
        ax.set_xlabel("epoch (Julian year)", fontsize="small")
        ax.set_ylabel("flux density (mJy)", fontsize="small")
        ax.tick_params(labelsize="small")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", framealpha=0.85)
    for ax in axes[len(curves):]:
        ax.set_axis_off()
    if not curves:
        axes[0].text(0.5, 0.5, "no star with two or more radio epochs", transform=axes[0].transAxes, ha="center")
    fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)


def reliability_diagram(curve: Mapping[str, Any], *, title: str = "Association probability: "
                        "predicted vs observed (injected truth)") -> bytes:
    """The reliability diagram: per bin of predicted association probability, the observed fraction of
    pairs that are true (with binomial 1-sigma errors), against the diagonal a calibrated posterior follows.
    `curve` is `radiolake.crossmatch.likelihood.reliability_curve`'s output, or a mapping of such curves by
    population ('all', 'star', 'extragalactic', ...: pipeline.reliability_from_truth), drawn side by side
    in one panel, since the posterior must be calibrated for each population."""
    curves = {"observed true fraction": curve} if "n" in curve else dict(curve)
    fig = Figure(figsize=(6.5, 6.0))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", label="calibrated")
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="grey", alpha=0.15, label="± 0.05")
    styles = [("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^"), ("tab:red", "D"), ("tab:purple", "v")]
    for i, (label, c) in enumerate(curves.items()):
        colour, marker = styles[i % len(styles)]
        n = np.asarray(c["n"], dtype=float)
        ok = n > 0
        x, y = np.asarray(c["mean_predicted"])[ok], np.asarray(c["observed"])[ok]
        shift = 0.006 * (i - (len(curves) - 1) / 2)  # populations side by side, not on top of each other
        ax.errorbar(x + shift, y, yerr=np.asarray(c["error"])[ok], fmt=marker, color=colour,
                    label=label if len(curves) == 1 else f"{label} ({int(n.sum()):,} pairs)")
        for xi, yi, k in zip(x, y, n[ok], strict=True):
            ax.annotate(f"{int(k):,}", (xi + shift, yi), textcoords="offset points", xytext=(6, -12 - 8 * i),
                        fontsize="xx-small", color=colour)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted association probability (bin mean)")
    ax.set_ylabel("observed fraction of true pairs")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.85)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def render_figures(
    radio: pd.DataFrame,
    candidates: pd.DataFrame,
    stars: pd.DataFrame,
    pairs_sep_arcsec: np.ndarray,
    offset_sep_arcsec: np.ndarray,
    n_offsets: int,
    field_stars: pd.DataFrame | None = None,
) -> dict[str, bytes]:
    """All three pictures of a run, keyed by the names the summary and the bucket use (`<name>.png`)."""
    return {
        "sky_map": sky_map(radio, candidates, stars),
        "cmd": cmd(candidates, stars if field_stars is None else field_stars),
        "separation_histogram": separation_histogram(pairs_sep_arcsec, offset_sep_arcsec, n_offsets),
    }


FIGURE_CAPTIONS: Mapping[str, str] = {
    "sky_map": "Radio sources and candidates over the stellar density",
    "cmd": "Colour–magnitude diagram of the candidates over the field stars",
    "separation_histogram": "Separation histogram with the offset-sky (chance) distribution",
    "light_curves": "Light curves (flux against epoch, per frequency) of the top stars, over every survey loaded",
    "reliability": "Reliability diagram: association probability against the injected truth (numbers: pairs)",
    "coverage_map": "Sky the radio catalogue covers so far (its version's MOC), and the part that is this run's",
}
