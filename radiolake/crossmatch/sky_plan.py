"""`radiolake plan --from-metadata`: the plan of catalogues known only by their description, before any is fetched.

A survey definition may carry a `sky:` block (radiolake/surveys/definitions/*.yaml): its row count, its
footprint (a declination band, optionally minus the galactic plane |b| < min_abs_b) and how its rows spread
over it (`uniform`, or `galactic`: denser toward the Milky Way's plane). On a HEALPix grid of order 6
(49,152 pixels of 0.84 deg^2) each catalogue's rows per pixel follow from that, and the plan from them:

- star rows read: the stars in the pixels the radio footprint covers (the run reads the star files near its
  radio rows only); partitions: those rows in chunks of star_chunks.CHUNK_ROWS;
- bytes: star rows x the bytes per row of the columns a task reads (star_task.STAR_READ), as stored in the
  lake (float64 values, the survey-prefixed id): values before compression, an upper bound (Parquet shrinks
  the constant epoch and the id prefix, a float column of measured values hardly);
- radio sky rows: radio rows x skies x the radio rows per row and sky the benchmark's plan had (replicas
  per sky, or the ra/dec boxes above engine.MAX_SKY_REPLICA_ROWS), stored with the costs;
- expected chance pairs: the sum over pixels of radio rows x star density x the search area.

The `galactic` density is a model, not a map: stars per deg^2 = rho_pole x exp(k (1 - |sin b|)), with the
pole density GALACTIC_POLE_DEG2 (an approximate reading of Gaia DR3's sky density map at high galactic
latitude) and k solved so that the whole sky holds the catalogue's rows. It puts ~30% of Gaia in |b| < 5
deg, where the real map also has the bulge's millions per deg^2; plans of footprints that avoid the plane
(RACS-low's catalogue cuts |b| < 5) are the less sensitive to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from radiolake.crossmatch.estimate import Costs, Estimate

GRID_ORDER = 6
SKY_DEG2 = 4 * math.pi * (180 / math.pi) ** 2
GALACTIC_POLE_DEG2 = 3_000.0
ID_DIGITS = 19  # a Gaia source_id's digits: the widest of the shipped surveys' ids


@dataclass(frozen=True)
class DescribedCatalogue:
    """A catalogue by its description: rows, footprint, density model and the lake's bytes per row."""

    name: str
    rows: int
    dec_range: tuple[float, float]
    min_abs_b: float = 0.0
    density: str = "uniform"  # or "galactic"
    read_row_bytes: float = 0.0  # the columns every task reads (star_task.STAR_READ)
    other_row_bytes: float = 0.0  # the rest, read for matched stars only

    @classmethod
    def from_survey(cls, name: str) -> DescribedCatalogue:
        """From the survey definition `name` and its `sky:` block (ValueError: none)."""
        import yaml

        from radiolake.surveys import SurveyDefinitionError, get_survey

        try:
            definition = get_survey(name)
        except SurveyDefinitionError as exc:
            raise ValueError(str(exc)) from exc
        sky = (yaml.safe_load(Path(definition.path).read_text()) or {}).get("sky") if definition.path else None
        if not isinstance(sky, dict) or "rows" not in sky:
            raise ValueError(f"survey {name!r} has no `sky:` block with its rows and footprint to plan from")
        footprint = sky.get("footprint") or {}
        dec = footprint.get("dec", [-90.0, 90.0])
        read, other = row_bytes(definition)
        return cls(name, int(sky["rows"]), (float(dec[0]), float(dec[1])), float(footprint.get("min_abs_b", 0.0)),
                   str(sky.get("density", "uniform")), read, other)

    def area_deg2(self) -> float:
        return float(self.counts().astype(bool).sum()) * SKY_DEG2 / _grid()[0].size

    def counts(self) -> np.ndarray:
        """Rows per grid pixel."""
        _, dec, b = _grid()
        inside = (dec >= self.dec_range[0]) & (dec < self.dec_range[1]) & (np.abs(b) >= self.min_abs_b)
        if self.density == "galactic":
            weight = np.exp(_galactic_k(self.rows) * (1 - np.abs(np.sin(np.radians(b))))) * inside
        elif self.density == "uniform":
            weight = inside.astype(float)
        else:
            raise ValueError(f"{self.name}: density must be uniform or galactic, got {self.density!r}")
        if not weight.sum():
            raise ValueError(f"{self.name}: its footprint covers no sky")
        return self.rows * weight / weight.sum()


def row_bytes(definition: Any) -> tuple[float, float]:
    """(bytes per row of the columns every task reads, of the other columns) as the lake stores the survey:
    float64 values, the int64 healpix, the id as '<prefix>:<digits>' plus Arrow's 4-byte offset."""
    from radiolake.crossmatch.star_task import STAR_READ

    names = {*definition.columns, *definition.keep, "epoch", "healpix"}
    sizes = {n: (len(definition.id_prefix) + 1 + ID_DIGITS + 4 if n == "source_id" else 8.0) for n in names}
    read = sum(v for n, v in sizes.items() if n in STAR_READ)
    return float(read), float(sum(sizes.values()) - read)


def plan_described(radio: DescribedCatalogue, stars: DescribedCatalogue, radius_arcsec: float, n_offsets: int,
                   costs: Costs | None) -> Estimate:
    """The plan of cross-matching two described catalogues (see the module's docstring)."""
    from radiolake.crossmatch import engine
    from radiolake.crossmatch.star_chunks import CHUNK_ROWS

    r, s = radio.counts(), stars.counts()
    pixel_deg2 = SKY_DEG2 / r.size
    star_rows = int(round(s[r > 0].sum()))
    n_skies = 1 + n_offsets
    per_sky = costs_field(costs, "box_replication" if n_offsets and n_skies * radio.rows
                          > engine.MAX_SKY_REPLICA_ROWS else "sky_row_replication")
    chance = float((r * s / pixel_deg2).sum() * math.pi * (radius_arcsec / 3600.0) ** 2)
    est = Estimate(
        n_radio=radio.rows, n_radio_quarantined=0, star_files=0, star_row_groups=0,
        partitions=max(math.ceil(star_rows / CHUNK_ROWS), 1), star_rows=star_rows,
        star_bytes_match_columns=int(star_rows * stars.read_row_bytes),
        star_bytes_other_columns=int(star_rows * stars.other_row_bytes),
        radio_sky_rows=int(radio.rows * n_skies * per_sky), n_skies=n_skies, expected_chance_pairs=chance,
        search_arcsec=radius_arcsec,
    )
    return est.with_costs(costs)


def costs_field(costs: Costs | None, name: str) -> float:
    """A replication factor stored with the costs (1.0 without costs: one sky row per radio row and sky)."""
    return float(getattr(costs, name, 1.0) if costs is not None else 1.0)


@lru_cache(maxsize=1)
def _grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ra, dec, galactic latitude) of the grid's pixel centres, degrees."""
    import astropy.units as u
    from astropy.coordinates import SkyCoord
    from cdshealpix import nested

    lon, lat = nested.healpix_to_lonlat(np.arange(12 * 4**GRID_ORDER, dtype=np.uint64), GRID_ORDER)
    ra, dec = lon.to_value(u.deg), lat.to_value(u.deg)
    b = SkyCoord(ra * u.deg, dec * u.deg).galactic.b.to_value(u.deg)
    return ra, dec, b


@lru_cache(maxsize=8)
def _galactic_k(rows: int) -> float:
    """k with rho_pole x (e^k - 1) / k = the mean density rows / sky (bisection; 0 if the mean is the pole's)."""
    mean = rows / SKY_DEG2
    if mean <= GALACTIC_POLE_DEG2:
        return 0.0
    lo, hi = 1e-9, 50.0
    for _ in range(100):
        k = 0.5 * (lo + hi)
        lo, hi = (k, hi) if GALACTIC_POLE_DEG2 * math.expm1(k) / k < mean else (lo, k)
    return 0.5 * (lo + hi)
