"""The sky a stellar fetch for a radio catalogue needs: the HEALPix cells within how far a star matching one of
its sources can lie from that source (near_cells), grouped into fetch units.

A star matches a radio source when, moved to the radio epoch, it lies within the search radius. At its
catalogue epoch it can therefore be up to radius + displacement away, the displacement being the bound the
cross-match plan uses (proper motion x epoch difference + parallax x the Earth's largest distance from the
barycentre), stated once in radiolake.surveys.motion for both layers. The cross-match takes the largest
proper motion and parallax of the star catalogue it reads; before the stars are fetched those are unknown,
so the fetch takes the largest of any star (Barnard's star, Proxima Centauri): a fetched footprint never
lacks a star the match could pair. The radius is the fetch's own (`--fetch-radius-arcsec`, the cross-match's
default cap of 30" unless given): a fetch for a 2" match needs a narrower margin.

The footprint is a set of cells at the coverage order (coverage.COVERAGE_ORDER, 0.21 deg^2): the lake's unit of
"where a catalogue has data", so a fetched footprint is exactly a `healpix:7:...` region the catalogue grows
by (ingest.growth), and a later radio catalogue's footprint minus what is there is what is still to fetch.
The cells are fetched in units: the cells inside one coarser HEALPix pixel (FETCH_UNIT_ORDER), whose nested
indices run in a few contiguous ranges, one ADQL condition each. A unit is what a resumed fetch skips.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import cdshealpix.nested as hp
import numpy as np
from astropy.coordinates import Latitude, Longitude
from mocpy import MOC

from radiolake.ingest import coverage
from radiolake.ingest.region import Region
from radiolake.surveys.motion import (
    MAX_STAR_PARALLAX_MAS,
    MAX_STAR_PM_MASYR,
    max_displacement_arcsec,
    motion_margin_arcsec,
)

#: Order of a fetch unit (3.7 deg pixels, 3,072 on the sky: ~600,000 Gaia DR3 rows each on average).
FETCH_UNIT_ORDER = 4
#: A unit's cells as at most this many id ranges (the smallest gaps are fetched too, then dropped on ingest).
MAX_RANGES_PER_UNIT = 16


@dataclass(frozen=True)
class MotionMargin:
    """How far from a radio source a star that matches it can be at the star catalogue's epoch."""

    radius_arcsec: float
    epoch_span_years: float  # largest |radio epoch - star epoch|
    pm_max_masyr: float = MAX_STAR_PM_MASYR
    parallax_max_mas: float = MAX_STAR_PARALLAX_MAS

    @property
    def displacement_arcsec(self) -> float:
        return max_displacement_arcsec(self.pm_max_masyr, self.epoch_span_years, self.parallax_max_mas)

    @property
    def arcsec(self) -> float:
        return motion_margin_arcsec(self.radius_arcsec, self.pm_max_masyr, self.epoch_span_years,
                                    self.parallax_max_mas)

    def describe(self) -> str:
        return (f"{self.arcsec:.0f} arcsec (match radius {self.radius_arcsec:g} + {self.pm_max_masyr:,.0f} mas/yr "
                f"over {self.epoch_span_years:.1f} yr + parallax {self.parallax_max_mas:g} mas)")


def epoch_span(radio_epochs: tuple[float, float], radio_span_years: float, star_epoch: float) -> float:
    """Largest time between a radio date and the star epoch; a radio epoch known only as the middle of a
    survey span of `radio_span_years` may be half the span earlier or later."""
    lo, hi = radio_epochs[0] - radio_span_years / 2, radio_epochs[1] + radio_span_years / 2
    return max(abs(star_epoch - lo), abs(hi - star_epoch))


#: arcsec: a lower bound of a coverage cell's width (half its nominal 0.46 degrees: cells near the poles are
#: squashed). A circle narrower than this around a point touches only the point's cell and its neighbours.
MIN_CELL_WIDTH_ARCSEC = 0.5 * 3600.0 * float(np.degrees(np.sqrt(4 * np.pi / coverage.N_CELLS)))


def near_cells(ra_deg: np.ndarray, dec_deg: np.ndarray, margin_arcsec: float) -> np.ndarray:
    """Coverage cells within `margin_arcsec` of a position: each position's own cell and every cell its circle
    of that radius touches (mocpy's cone coverage, which errs on the side of a cell too many, never too few).
    A circle, not rings of neighbours: a source in the middle of its 0.46-degree cell adds no neighbour for a
    97-arcsec margin, so a smaller radius fetches fewer cells. A source whose cell's neighbours all hold
    sources already can add nothing (for a margin below a cell's width): only the others' circles are drawn,
    which for a dense catalogue is the few along its edges."""
    mask = coverage.empty()
    if len(ra_deg) == 0:
        return mask
    lon, lat = Longitude(np.asarray(ra_deg, np.float64) * u.deg), Latitude(np.asarray(dec_deg, np.float64) * u.deg)
    own = hp.lonlat_to_healpix(lon, lat, coverage.COVERAGE_ORDER).astype(np.int64)
    mask[own] = True
    if margin_arcsec <= 0:
        return mask
    if margin_arcsec < MIN_CELL_WIDTH_ARCSEC:
        cells = np.flatnonzero(mask)
        around = hp.neighbours(cells.astype(np.uint64), coverage.COVERAGE_ORDER).astype(np.int64)
        enclosed = np.where(around >= 0, mask[np.maximum(around, 0)], True).all(axis=1)
        edge = ~np.isin(own, cells[enclosed])
        lon, lat = lon[edge], lat[edge]
    if len(lon):
        moc = MOC.from_cones(lon, lat, radius=margin_arcsec * u.arcsec, max_depth=coverage.COVERAGE_ORDER,
                             union_strategy="small_cones", n_threads=1)
        mask |= coverage.from_moc(moc)
    return mask


@dataclass(frozen=True)
class FetchUnit:
    """The footprint's cells inside one pixel at FETCH_UNIT_ORDER, as half-open runs of coverage cells."""

    pixel: int
    runs: tuple[tuple[int, int], ...]

    @property
    def key(self) -> str:
        return f"{FETCH_UNIT_ORDER}-{self.pixel}"

    @property
    def n_cells(self) -> int:
        return sum(b - a for a, b in self.runs)

    def id_condition(self, id_column: str, id_order: int, id_scale: int) -> str:
        """ADQL over an id that encodes the nested HEALPix index at `id_order` as id // id_scale (Gaia's
        source_id: order 12, 2**35): one range of ids per run of cells, the fastest selection there is."""
        shift = 2 * (id_order - coverage.COVERAGE_ORDER)
        ranges = [f"({id_column} >= {(a << shift) * id_scale} AND {id_column} < {(b << shift) * id_scale})"
                  for a, b in self.runs]
        return ranges[0] if len(ranges) == 1 else "(" + " OR ".join(ranges) + ")"


def _runs(cells: np.ndarray, max_runs: int) -> tuple[tuple[int, int], ...]:
    """Sorted cells as half-open runs, the smallest gaps closed until at most `max_runs` remain."""
    breaks = np.flatnonzero(np.diff(cells) > 1)
    starts = np.concatenate([[cells[0]], cells[breaks + 1]])
    ends = np.concatenate([cells[breaks], [cells[-1]]]) + 1
    if len(starts) > max_runs:
        gaps = starts[1:] - ends[:-1]
        keep = np.sort(np.argsort(gaps, kind="stable")[len(starts) - max_runs:])  # the largest gaps stay
        starts, ends = starts[np.concatenate([[0], keep + 1])], ends[np.concatenate([keep, [len(ends) - 1]])]
    return tuple((int(a), int(b)) for a, b in zip(starts, ends, strict=True))


def fetch_units(mask: np.ndarray, max_runs: int = MAX_RANGES_PER_UNIT) -> list[FetchUnit]:
    """The cells of `mask` grouped by their pixel at FETCH_UNIT_ORDER."""
    cells = np.flatnonzero(mask)
    parents = cells >> (2 * (coverage.COVERAGE_ORDER - FETCH_UNIT_ORDER))
    bounds = np.flatnonzero(np.diff(parents)) + 1
    return [FetchUnit(int(group_parents[0]), _runs(group, max_runs))
            for group, group_parents in zip(np.split(cells, bounds), np.split(parents, bounds), strict=True)
            if len(group)]


def region_of(mask: np.ndarray) -> Region:
    """The cells as a `healpix:7:...` region (what the star catalogue grows by); all cells: the whole sky."""
    if mask.all():
        return Region("all")
    return Region("healpix", (float(coverage.COVERAGE_ORDER),), tuple(int(c) for c in np.flatnonzero(mask)))


def unit_cone(unit: FetchUnit) -> Region:
    """A cone around the unit's pixel, for tables whose id encodes no HEALPix index."""
    return Region.cone_around_pixel(FETCH_UNIT_ORDER, unit.pixel)
