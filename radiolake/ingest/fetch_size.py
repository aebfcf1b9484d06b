"""How much an online fetch would pull, said before it starts; a whole-sky or oversized fetch is refused.

`radiolake ingest gaia_dr3` without a region used to mean the whole of Gaia DR3 (1.8 billion rows) with no
warning. A survey YAML declares the size of its whole table (`source.sky_rows`); the estimate for a region is
that times the region's share of the sky (a sky average: the galactic plane is denser), and the bytes are
rows x the columns fetched x 8 bytes (binary VOTable, before compression). A fetch above
`RADIOLAKE_INGEST_MAX_ROWS` rows (default 10 million), or of the whole sky from a table whose size is not
declared, is refused with those figures unless the caller asks for it (`--allow-large-fetch`, the ingest
DAGs' `allow_large_fetch`).
"""

from __future__ import annotations

from dataclasses import dataclass

from radiolake.config import positive_env
from radiolake.ingest.region import Region
from radiolake.surveys import SurveyDefinition

#: Source kinds that download from an archive (the others read a local file, a wheel or generate rows).
ONLINE_KINDS = frozenset({"tap", "url"})
DEFAULT_MAX_ROWS = 10_000_000
MAX_ROWS_ENV = "RADIOLAKE_INGEST_MAX_ROWS"
BYTES_PER_VALUE = 8


class FetchTooLarge(ValueError):
    """A fetch would pull more than the limit (or the whole sky from a table of unknown size)."""


@dataclass(frozen=True)
class FetchEstimate:
    """Rows and bytes a fetch of `region` is expected to pull (None: the table's size is not declared)."""

    survey: str
    region: str
    area_fraction: float
    rows: int | None
    bytes: int | None

    def describe(self) -> str:
        share = f"{self.area_fraction:.3%} of the sky" if self.area_fraction < 1 else "the whole sky"
        if self.rows is None:
            return f"{self.survey} over {self.region} ({share}): size unknown (the survey declares no source.sky_rows)"
        return (f"{self.survey} over {self.region} ({share}): about {self.rows:,} rows, "
                f"{self.bytes / 1e9:,.1f} GB to download (sky average)")


def max_rows() -> int:
    """The largest fetch allowed without asking, from RADIOLAKE_INGEST_MAX_ROWS (a positive integer)."""
    return int(positive_env(MAX_ROWS_ENV, DEFAULT_MAX_ROWS, integer=True))


def estimate(definition: SurveyDefinition, region: Region, n_columns: int) -> FetchEstimate:
    """The expected rows and bytes of fetching `region` of the survey's table."""
    fraction = float(region.area_fraction())
    sky_rows = definition.source.get("sky_rows")
    rows = round(float(sky_rows) * fraction) if sky_rows else None
    size = rows * max(n_columns, 1) * BYTES_PER_VALUE if rows is not None else None
    return FetchEstimate(definition.name, region_label(region), fraction, rows, size)


def region_label(region: Region, max_pixels: int = 8) -> str:
    """The region as text for a message: a footprint of thousands of cells as its order and cell count."""
    if region.kind == "healpix" and len(region.pixels) > max_pixels:
        return f"healpix:{int(region.params[0])}:<{len(region.pixels):,} cells>"
    return str(region)


def check_fetch_size(definition: SurveyDefinition, region: Region, n_columns: int,
                     allow_large: bool = False) -> FetchEstimate | None:
    """The estimate of an online fetch, after refusing one too large to start unasked (FetchTooLarge).

    Local files, wheels and synthetic skies are not fetched from an archive: None."""
    if definition.source_kind not in ONLINE_KINDS:
        return None
    est = estimate(definition, region, n_columns)
    refuse_if_too_large(est, whole_sky=region.kind == "all", allow_large=allow_large)
    return est


#: What to do about a refused fetch of a region (a footprint fetch says its own).
REGION_HINT = "Give a smaller --region (cone:RA,DEC,R, box:..., healpix:K:P,...)"


def refuse_if_too_large(est: FetchEstimate, *, whole_sky: bool, allow_large: bool = False,
                        hint: str = REGION_HINT) -> None:
    """FetchTooLarge naming the estimated rows and bytes when `est` is above the limit (or the whole sky of a
    table of unknown size), unless the caller asked for it."""
    if allow_large:
        return
    limit = max_rows()
    unknown_whole_sky = est.rows is None and whole_sky
    if unknown_whole_sky or (est.rows is not None and est.rows > limit):
        raise FetchTooLarge(
            f"refusing to fetch {est.describe()}; the limit is {limit:,} rows ({MAX_ROWS_ENV}). {hint}, or ask "
            "for it with --allow-large-fetch (DAG param allow_large_fetch)")
