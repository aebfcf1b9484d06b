"""The run report's coverage map: which sky the radio catalogue covers so far, and which part is this run's.

A catalogue grows region by region (`radiolake.ingest.growth`); each committed version carries its coverage
as a MOC (`moc.fits`, `radiolake.ingest.coverage`). The map draws, on the whole sky (Mollweide, equal-area:
drawn areas compare as sky areas do), the coverage of the radio catalogue version the run read, and inside it
the part that is this run's:

- the run's own footprint when it has one (an incremental run, or the rerun of a region, records it in its
  run.json: only that sky was matched, and the marts replace older detections there only);
- else the sky of the version's latest ingest (a grown version: the region that ingest added or refreshed;
  a first ingest: all of it). The run matched all of the catalogue, but that is what is new in it.

The MOCs are drawn with mocpy on an astropy WCS, without antialiasing, in three flat colours, so a picture's
pixels of each colour measure the areas (the report's test counts them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
import pyarrow.fs as pafs
from astropy.visualization.wcsaxes.frame import EllipticalFrame
from astropy.wcs import WCS
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest.region import parse_region
from radiolake.reports.plots import _png

#: Flat colours of the map (the test counts pixels of each): sky not covered, covered, this run's part.
SKY, COVERED, ADDED = "#ececec", "#8fb8de", "#d9480f"
#: Pixels across the whole-sky map (the Mollweide ellipse spans 2√2 × √2 in its own units).
MAP_WIDTH_PX = 900


@dataclass(frozen=True)
class CoverageLayers:
    """Cells at `coverage.COVERAGE_ORDER`: the catalogue's coverage, and the part of it that is this run's."""

    catalogue: str
    version: str
    covered: np.ndarray
    added: np.ndarray  # within covered
    added_label: str

    @property
    def covered_deg2(self) -> float:
        return coverage.area_deg2(self.covered)

    @property
    def added_deg2(self) -> float:
        return coverage.area_deg2(self.added)


def run_footprint(run: dict[str, Any] | None) -> dict[str, Any] | None:
    """The footprint a run recorded (order-29 ranges): its own, or its radio increment's; None: it matched the
    whole radio version."""
    if not run:
        return None
    radio = (run.get("catalog_versions") or {}).get("radio") or {}
    return run.get("footprint") or (radio.get("increment") or {}).get("footprint")


def footprint_cells(footprint: dict[str, Any]) -> np.ndarray:
    """Order-29 [lo, hi) ranges as coverage cells (a cell partly inside counts)."""
    shift = 2 * (int(footprint.get("order", 29)) - coverage.COVERAGE_ORDER)
    mask = coverage.empty()
    for lo, hi in footprint.get("ranges", []):
        mask[int(lo) >> shift: ((int(hi) - 1) >> shift) + 1] = True
    return mask


def coverage_layers(fs: pafs.FileSystem, version_path: str, run: dict[str, Any] | None = None) -> CoverageLayers:
    """The layers of the map for the radio catalogue version at `version_path` (``<base>/versions/<v>``)
    and a run's run.json (None: a run over the whole version)."""
    base, version = version_path.removeprefix("s3://").rstrip("/").rsplit("/versions/", 1)
    info = cat.open_catalog(fs, base, version)
    covered = coverage.read_coverage(fs, base, version)
    footprint = run_footprint(run)
    if footprint is not None:
        added, label = footprint_cells(footprint) & covered, "matched by this run (its footprint)"
    elif info.metadata.get("grown_from") and info.metadata.get("layers"):
        region = info.metadata["layers"][-1]["region"]
        added = coverage.region_cells(parse_region(region)) & covered
        label = f"latest ingest ({region}): new or refreshed in this version"
    else:
        added, label = covered.copy(), "first ingest: all new in this version"
    return CoverageLayers(base.rsplit("/", 1)[-1], version, covered, added, label)


def whole_sky_wcs(width_px: int = MAP_WIDTH_PX) -> WCS:
    """An all-sky Mollweide WCS, RA 0 in the middle growing to the left, `width_px` pixels across."""
    x_span = 4 * np.sqrt(2) * (180 / np.pi)  # the ellipse's width in the projection's degrees
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---MOL", "DEC--MOL"]
    wcs.wcs.crval = [0.0, 0.0]
    scale = x_span / width_px
    wcs.wcs.cdelt = [-scale, scale]
    wcs.wcs.crpix = [width_px / 2 + 0.5, width_px / 4 + 0.5]
    wcs.pixel_shape = (width_px, width_px // 2)
    return wcs


def coverage_map(layers: CoverageLayers) -> bytes:
    """The whole-sky map of `layers` as PNG bytes (flat colours, areas in the legend)."""
    wcs = whole_sky_wcs()
    width, height = wcs.pixel_shape
    fig = Figure(figsize=(10.0, 6.2))
    ax = fig.add_subplot(projection=wcs, frame_class=EllipticalFrame)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-0.5, height - 0.5)
    before = layers.covered & ~layers.added
    for mask, colour in ((np.ones(coverage.N_CELLS, bool), SKY), (before, COVERED), (layers.added, ADDED)):
        if mask.any():
            coverage.to_moc(mask).fill(ax=ax, wcs=wcs, color=colour, linewidth=0,
                                       antialiased=False, alpha=1.0)
    ax.coords.grid(True, color="grey", linestyle=":", alpha=0.35)
    for coord, spacing in ((ax.coords[0], 60), (ax.coords[1], 30)):
        coord.set_ticks(spacing=spacing * u.deg, color="grey")
        coord.set_major_formatter("d")
        coord.set_ticklabel(color="dimgrey", size="small")
        coord.set_axislabel("")
    sky = coverage.SKY_DEG2
    handles = [
        Patch(color=COVERED, label=f"covered before ({coverage.area_deg2(before):,.0f} deg²)"),
        Patch(color=ADDED, label=f"{layers.added_label} ({layers.added_deg2:,.0f} deg²)"),
        Patch(color=SKY, label="not covered"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncols=2, fontsize="small",
              framealpha=0.85, title="ICRS, RA (deg) increasing to the left, grid every 60° × 30°",
              title_fontsize="small")
    ax.set_title(f"Radio catalogue {layers.catalogue} so far (version {layers.version}): "
                 f"{layers.covered_deg2:,.0f} deg², {layers.covered_deg2 / sky:.1%} of the sky", pad=14)
    fig.tight_layout()
    return _png(fig)


def run_coverage_map(fs: pafs.FileSystem, radio_path: str, xmatch_prefix: str | None = None) -> bytes:
    """The coverage map of a pipeline run: its radio catalogue version's path and its results folder (whose
    run.json may hold the run's footprint)."""
    run = None
    if xmatch_prefix:
        path = f"{xmatch_prefix.removeprefix('s3://').rstrip('/')}/run.json"
        if cat.exists(fs, path):
            run = json.loads(cat.read_text(fs, path))
    return coverage_map(coverage_layers(fs, radio_path, run))

