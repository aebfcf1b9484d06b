"""Where a catalogue version has data: its coverage as HEALPix cells at one order, written as a MOC.

A version's coverage is the union of the regions ingested into it (each region as the cells it touches, plus
the cells of its rows, so no row ever falls outside its version's coverage). Inside the ingest it is a boolean
mask over the cells at `COVERAGE_ORDER` (196,608 cells, numpy set algebra); on disk it is an IVOA MOC
(`moc.fits` beside `partition_info.csv`, written with mocpy), which LSDB, Aladin and `mocpy.MOC.load` read.
`COVERAGE_ORDER` is also the finest partition order, so a partition is always a whole number of cells.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
import pyarrow.fs as pafs
from astropy.coordinates import Latitude, Longitude, SkyCoord
from mocpy import MOC

from radiolake.ingest import catalog as cat
from radiolake.ingest.region import Region
from radiolake.schema import HEALPIX_ORDER

#: Order of the coverage cells (0.21 deg^2 each); the partition writer's finest order too.
COVERAGE_ORDER = 7
N_CELLS = 12 * 4**COVERAGE_ORDER
MOC_FILE = "moc.fits"


def empty() -> np.ndarray:
    return np.zeros(N_CELLS, bool)


def region_cells(region: Region) -> np.ndarray:
    """The cells a region touches (a cell partly inside counts: its rows inside the region are the region's)."""
    mask = empty()
    if region.kind == "all":
        mask[:] = True
        return mask
    if region.kind == "healpix":
        order = int(region.params[0])
        pixels = np.asarray(region.pixels, np.int64)
        if order >= COVERAGE_ORDER:
            mask[pixels >> (2 * (order - COVERAGE_ORDER))] = True
        else:
            span = 4 ** (COVERAGE_ORDER - order)
            for p in pixels:
                mask[p * span : (p + 1) * span] = True
        return mask
    if region.kind == "cone":
        ra, dec, radius = region.params
        moc = MOC.from_cone(lon=Longitude(ra * u.deg), lat=Latitude(dec * u.deg), radius=radius * u.deg,
                            max_depth=COVERAGE_ORDER)
    else:
        ra_min, ra_max, dec_min, dec_max = region.params
        moc = MOC.from_zone(SkyCoord([[ra_min, dec_min], [ra_max, dec_max]], unit="deg"), max_depth=COVERAGE_ORDER)
    mask[_moc_cells(moc)] = True
    return mask


def row_cells(healpix29: np.ndarray) -> np.ndarray:
    """The coverage cells of rows given their order-29 `healpix`."""
    mask = empty()
    mask[np.asarray(healpix29, np.int64) >> (2 * (HEALPIX_ORDER - COVERAGE_ORDER))] = True
    return mask


def pixel_slice(order: int, pixel: int) -> slice:
    """The cells (at COVERAGE_ORDER) of a pixel of order <= COVERAGE_ORDER."""
    span = 4 ** (COVERAGE_ORDER - order)
    return slice(pixel * span, (pixel + 1) * span)


def to_moc(mask: np.ndarray) -> MOC:
    cells = np.flatnonzero(mask).astype(np.uint64)
    return MOC.from_healpix_cells(cells, np.full(cells.size, COVERAGE_ORDER, np.uint8), max_depth=COVERAGE_ORDER)


def _moc_cells(moc: MOC) -> np.ndarray:
    """A MOC's cells at COVERAGE_ORDER (coarser cells expanded, finer ones rounded up to their parent)."""
    ranges = np.asarray(moc.to_depth29_ranges, np.uint64).reshape(-1, 2)
    shift = np.uint64(2 * (HEALPIX_ORDER - COVERAGE_ORDER))
    out = [np.arange(lo >> shift, ((hi - np.uint64(1)) >> shift) + np.uint64(1), dtype=np.int64) for lo, hi in ranges]
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def from_moc(moc: MOC) -> np.ndarray:
    mask = empty()
    mask[_moc_cells(moc)] = True
    return mask


def moc_bytes(mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    to_moc(mask).serialize(format="fits").writeto(buf)
    return buf.getvalue()


def write_coverage(fs: pafs.FileSystem, version_dir: str, mask: np.ndarray) -> None:
    """Write `<version>/moc.fits`."""
    path = f"{version_dir}/{MOC_FILE}"
    cat.ensure_parent(fs, path)
    with fs.open_output_stream(path) as fh:
        fh.write(moc_bytes(mask))


def read_coverage(fs: pafs.FileSystem, base: str, version: str) -> np.ndarray:
    """The coverage of a committed version: its moc.fits; for versions from before coverage was written, the
    cells of its partitions."""
    path = f"{cat.version_path(base, version)}/{MOC_FILE}"
    if cat.exists(fs, path):
        with fs.open_input_stream(path) as fh, tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp, MOC_FILE)
            local.write_bytes(fh.read())
            return from_moc(MOC.load(str(local), format="fits"))
    mask = empty()
    for p in cat.open_catalog(fs, base, version).partitions:
        mask[pixel_slice(p["order"], p["pixel"])] = True
    return mask


def sky_fraction(mask: np.ndarray) -> float:
    return float(mask.sum()) / N_CELLS


#: The whole sky, deg² (4π sr).
SKY_DEG2 = 4 * np.pi * (180 / np.pi) ** 2


def area_deg2(mask: np.ndarray) -> float:
    """Sky area of the covered cells, deg² (HEALPix cells at one order all have the same area)."""
    return sky_fraction(mask) * SKY_DEG2
