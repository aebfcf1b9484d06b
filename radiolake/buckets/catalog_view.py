"""A catalogue version folder in the browser: its summary from `metadata.json` and its coverage on the sky.

A folder is a catalogue version when it is `<...>/versions/<version>/` in the catalogs bucket and holds
`metadata.json` (see radiolake/ingest/catalog.py). The sky picture is a Mollweide map of the version's
HEALPix partitions, shaded by rows per square degree, drawn on request and kept in memory (keyed by the
metadata's ETag, so a rewritten version is drawn again).
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from radiolake.ingest.catalog import COMMITTED, METADATA

MAX_METADATA_BYTES = 16 * 1024 * 1024
SKY_CACHE_SIZE = 32
_sky_cache: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
_sky_lock = threading.Lock()


def is_version_folder(prefix: str) -> bool:
    parts = prefix.rstrip("/").split("/")
    return len(parts) >= 2 and parts[-2] == "versions" and prefix.endswith("/")


@dataclass
class CatalogSummary:
    name: str
    version: str
    committed: bool
    n_rows: int
    n_partitions: int
    healpix_orders: list[int]
    epoch_min: Any
    epoch_max: Any
    epoch_rule: str
    committed_utc: str
    quarantined: int
    quarantine_reasons: dict[str, int]
    quarantine_path: str
    provenance: dict[str, Any]
    title: str = ""


def summarise(meta: dict[str, Any], committed: bool) -> CatalogSummary:
    quarantine = meta.get("quarantine") or {}
    partitions = meta.get("partitions") or []
    return CatalogSummary(
        name=str(meta.get("name", "")), version=str(meta.get("version", "")), committed=committed,
        n_rows=int(meta.get("n_rows", 0)), n_partitions=int(meta.get("n_partitions", len(partitions))),
        healpix_orders=sorted({int(p["order"]) for p in partitions}),
        epoch_min=meta.get("epoch_min"), epoch_max=meta.get("epoch_max"), epoch_rule=str(meta.get("epoch_rule", "")),
        committed_utc=str(meta.get("committed_utc", "")),
        quarantined=int(quarantine.get("rows_quarantined", 0)),
        quarantine_reasons=dict(quarantine.get("reasons") or {}),
        quarantine_path=str(quarantine.get("path", "")), provenance=dict(meta.get("provenance") or {}),
        title=str(meta.get("title", "")),
    )


def read_metadata(client, bucket: str, prefix: str) -> tuple[dict[str, Any], str, bool] | None:
    """(metadata, etag, committed) of a version folder, or None when it has no metadata.json."""
    from minio.error import S3Error

    try:
        stat = client.stat_object(bucket, prefix + METADATA)
    except S3Error:
        return None
    if stat.size is None or stat.size > MAX_METADATA_BYTES:
        return None
    resp = client.get_object(bucket, prefix + METADATA)
    try:
        meta = json.loads(resp.read())
    except ValueError:
        return None
    finally:
        resp.close()
        resp.release_conn()
    try:
        client.stat_object(bucket, prefix + COMMITTED)
        committed = True
    except S3Error:
        committed = False
    return meta, stat.etag or "", committed


def coverage_png(partitions: list[dict[str, Any]], title: str = "") -> bytes:
    """Mollweide map of HEALPix partitions (order, pixel, rows): rows per deg², log colour scale."""
    import cdshealpix
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from astropy import units as u
    from matplotlib.colors import LogNorm, Normalize

    # A 0.5-degree grid of the sky, each cell looked up in every order present: robust across RA = 180.
    lon = np.linspace(-180, 180, 721)
    lat = np.linspace(-90, 90, 361)
    lon_c, lat_c = np.meshgrid((lon[:-1] + lon[1:]) / 2, (lat[:-1] + lat[1:]) / 2)
    density = np.full(lon_c.shape, np.nan)
    by_order: dict[int, dict[int, float]] = {}
    for p in partitions:
        area = 41252.96 / (12 * 4 ** int(p["order"]))
        by_order.setdefault(int(p["order"]), {})[int(p["pixel"])] = max(float(p.get("rows", 0)), 0.5) / area
    for order, pixels in by_order.items():
        ipix = cdshealpix.lonlat_to_healpix(np.mod(lon_c, 360).ravel() * u.deg, lat_c.ravel() * u.deg, order)
        known = np.array(sorted(pixels), dtype=np.int64)
        rates = np.array([pixels[int(k)] for k in known])
        at = np.clip(np.searchsorted(known, ipix), 0, len(known) - 1)
        values = np.where(known[at] == ipix, rates[at], np.nan).reshape(lon_c.shape)
        density = np.where(np.isnan(density), values, density)
    fig = plt.figure(figsize=(6.4, 3.6), dpi=100)
    ax = fig.add_subplot(111, projection="mollweide")
    finite = density[np.isfinite(density)]
    if finite.size:
        # A log scale only where densities span a decade; else a linear one from zero (readable ticks).
        norm = (LogNorm(vmin=finite.min(), vmax=finite.max()) if finite.max() > 10 * finite.min()
                else Normalize(vmin=0.0, vmax=finite.max() * 1.05))
        mesh = ax.pcolormesh(np.radians(-lon), np.radians(lat), np.ma.masked_invalid(density), shading="flat",
                             norm=norm, cmap="viridis")
        fig.colorbar(mesh, ax=ax, orientation="horizontal", fraction=0.05, pad=0.08, label="rows per deg²")
    # Small partitions can fall between grid cells: mark every partition's centre too.
    centres = [cdshealpix.healpix_to_lonlat(np.array([px]), order) for order, pix in by_order.items() for px in pix]
    if centres:
        clon = np.array([c[0].to_value(u.deg)[0] for c in centres])
        clat = np.array([c[1].to_value(u.deg)[0] for c in centres])
        ax.scatter(np.radians(-((clon + 180) % 360 - 180)), np.radians(clat), s=2, c="#d62728", linewidths=0)
    # Astronomers' convention: RA increases to the left.
    ax.set_xticks(np.radians([-150, -120, -90, -60, -30, 0, 30, 60, 90, 120, 150]))
    ax.set_xticklabels(["150°", "120°", "90°", "60°", "30°", "0°", "330°", "300°", "270°", "240°", "210°"],
                       fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(True, alpha=0.3)
    ax.set_title(title or "coverage", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def cached_coverage(bucket: str, prefix: str, etag: str, meta: dict[str, Any]) -> bytes:
    key = (bucket, prefix, etag)
    with _sky_lock:
        if key in _sky_cache:
            _sky_cache.move_to_end(key)
            return _sky_cache[key]
    png = coverage_png(meta.get("partitions") or [], f"{meta.get('name', '')} {meta.get('version', '')}".strip())
    with _sky_lock:
        _sky_cache[key] = png
        while len(_sky_cache) > SKY_CACHE_SIZE:
            _sky_cache.popitem(last=False)
    return png
