"""A stellar catalogue fetched only where a radio catalogue of the lake needs it, resumably.

`radiolake ingest gaia_dr3 --for-radio racs_low` reads the radio catalogue's sources, takes the cells within the
motion margin of one (footprint.py), takes away the cells the star catalogue already holds, sizes what is left
(fetch_size: refused above the limit, with rows and bytes, unless asked for) and fetches it in one of two ways:

- ``pixels``: unit by unit (footprint.FetchUnit), each unit's ADQL paged by id. For a table whose id encodes a
  HEALPix index (Gaia's source_id: `source.healpix_id` in the survey definition) a unit is a few id ranges,
  the fastest query the archive has; for another table, one query of the units' cones.
- ``upload``: for a sparse radio list (at most UPLOAD_MAX_SOURCES sources whose search circles cover less than
  UPLOAD_MAX_AREA_SHARE of the footprint) the radio positions are sent as a TAP_UPLOAD table and the archive
  returns the stars within the margin of any of them: a fraction of the footprint's rows. Those stars go to a
  catalogue of their own, `<survey>_near_<radio>`, since they are not the whole sky of any cell.

Resumption: every page goes to the raw area at once (content-addressed, where the ingest stores raw files
anyway), and after every page the unit's record (`<raw>/<survey>/footprint-<key>/units/<unit>.json`, written
to a temporary name and moved into place) lists its pages and the last id. A re-run reads the records: a
complete unit's pages are read back from the lake, never fetched again; an unfinished one goes on after its
last id. The pages then go through the ordinary ingest as one growth step over the fetched cells (growth.py):
the ids of two units never overlap, so the catalogue holds each star once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest import footprint as fp
from radiolake.ingest.fetch_size import FetchEstimate, estimate, refuse_if_too_large
from radiolake.ingest.growth import layers_of
from radiolake.ingest.region import Region, parse_region
from radiolake.ingest.sources import (
    FetchError,
    RawArtifact,
    RetryPolicy,
    _adql_name,
    build_tap_query,
    fetch_tap_page,
    sha256_file,
    tap_artifact,
    tap_columns,
    tap_service,
)
from radiolake.surveys import SurveyDefinition, SurveyDefinitionError, get_survey

log = logging.getLogger(__name__)

Mode = Literal["auto", "pixels", "upload"]
#: Upload at most this many radio positions (archives cap an upload's size; Gaia's at a few hundred MB).
UPLOAD_MAX_SOURCES = 50_000
#: Upload when the radio sources' search circles cover less than this share of the cells to fetch.
UPLOAD_MAX_AREA_SHARE = 0.1
MAX_PAGES_PER_UNIT = 100_000


@dataclass(frozen=True)
class RadioFootprint:
    """A radio catalogue version of the lake, its coverage and the cells its stars may lie in."""

    name: str
    version: str
    n_rows: int
    margin: fp.MotionMargin
    cells: np.ndarray  # coverage cells within the margin of a source


def radio_footprint(fs: pafs.FileSystem, catalogs_root: str, radio: str, star_epoch: float,
                    radius_arcsec: float) -> RadioFootprint:
    """The cells within the margin of `radio`'s sources; `radio` is a lake catalogue name, or NAME@VERSION
    for a committed version other than CURRENT."""
    name, _, version = radio.partition("@")
    base = f"{catalogs_root.rstrip('/')}/{name}"
    version = version or cat.current_version(fs, base) or ""
    if not version or not cat.is_committed(fs, base, version):
        raise FetchError(f"--for-radio {radio}: no committed version of catalogue {name} in {catalogs_root}")
    meta = cat.open_catalog(fs, base, version).metadata
    if not meta.get("n_rows"):
        raise FetchError(f"--for-radio {radio}: the catalogue has no rows, so no footprint")
    span = 0.0
    try:
        span = get_survey(meta["survey"]).epoch.span_years or 0.0
    except (SurveyDefinitionError, KeyError):
        log.warning("footprint of %s: survey definition %s not found; no epoch span", radio, meta.get("survey"))
    epochs = meta.get("epoch_min"), meta.get("epoch_max")
    if not all(isinstance(e, int | float) and math.isfinite(e) for e in epochs):
        raise FetchError(f"--for-radio {radio}: the catalogue records no epochs, so no motion margin")
    dt = fp.epoch_span((float(epochs[0]), float(epochs[1])), span, star_epoch)
    margin = fp.MotionMargin(radius_arcsec, dt)
    # its rows say where the sources are, and a star matters only within the margin of one (moc.fits says
    # where the catalogue was ingested: a whole file is the whole sky, however few its sources)
    rows = cat.read_catalog(fs, base, columns=["ra", "dec"], version=version)
    cells = fp.near_cells(rows.column("ra").to_numpy(), rows.column("dec").to_numpy(), margin.arcsec)
    return RadioFootprint(name, version, int(meta["n_rows"]), margin, cells)


def fetched_cells(fs: pafs.FileSystem, star_base: str) -> np.ndarray:
    """Cells the star catalogue's CURRENT holds whole: its layers over whole cells (the whole sky, or HEALPix
    regions no finer than the coverage order); a cone's or a box's edge cells are fetched again."""
    mask = coverage.empty()
    current = cat.current_version(fs, star_base)
    if current is None:
        return mask
    for layer in layers_of(cat.open_catalog(fs, star_base, current)):
        region = parse_region(layer["region"])
        if region.kind == "all" or (region.kind == "healpix" and region.params[0] <= coverage.COVERAGE_ORDER):
            mask |= coverage.region_cells(region)
    return mask


@dataclass(frozen=True)
class FootprintPlan:
    """What a footprint fetch will do: the cells to fetch, how, into which catalogue, and its size."""

    radio: RadioFootprint
    todo: np.ndarray  # cells to fetch (pixels), or the footprint the upload's stars stand for
    mode: Literal["pixels", "upload", "none"]
    reason: str
    catalogue: str
    estimate: FetchEstimate

    @property
    def region(self) -> Region:
        return fp.region_of(self.todo)

    def describe(self) -> list[str]:
        r = self.radio
        return [
            f"radio catalogue {r.name}@{r.version}: {r.n_rows:,} sources over "
            f"{r.cells.sum():,} cells of {coverage.COVERAGE_ORDER}th order (with the margin)",
            f"margin {r.margin.describe()}",
            f"mode {self.mode}: {self.reason}",
            f"into catalogue {self.catalogue}: {self.estimate.describe()}",
        ]


def _circles_fraction(n: int, margin_arcsec: float) -> float:
    return n * (1 - math.cos(math.radians(margin_arcsec / 3600.0))) / 2


def choose_mode(radio: RadioFootprint, todo: np.ndarray, mode: Mode) -> tuple[str, str]:
    """(mode, the rule as printed). `auto`: upload for a sparse list, pixels otherwise."""
    circles, cells = _circles_fraction(radio.n_rows, radio.margin.arcsec), coverage.sky_fraction(todo)
    share = circles / cells if cells else math.inf
    rule = (f"{radio.n_rows:,} sources, their circles cover {share:.1%} of the {todo.sum():,} cells to fetch "
            f"(upload when <= {UPLOAD_MAX_SOURCES:,} sources and < {UPLOAD_MAX_AREA_SHARE:.0%})")
    if mode == "upload":
        if radio.n_rows > UPLOAD_MAX_SOURCES:
            raise FetchError(f"upload of {radio.n_rows:,} radio positions refused: at most {UPLOAD_MAX_SOURCES:,}")
        return "upload", "asked for; " + rule
    if not todo.any():
        return "none", "the star catalogue already holds every cell of the footprint"
    if mode == "pixels":
        return "pixels", "asked for; " + rule
    sparse = radio.n_rows <= UPLOAD_MAX_SOURCES and share < UPLOAD_MAX_AREA_SHARE
    return ("upload" if sparse else "pixels"), rule


def plan_footprint_fetch(definition: SurveyDefinition, fs: pafs.FileSystem, catalogs_root: str, radio: str,
                         *, name: str | None = None, radius_arcsec: float, mode: Mode = "auto") -> FootprintPlan:
    """The plan of fetching `definition`'s table for the radio catalogue `radio` (nothing fetched yet)."""
    if definition.source_kind != "tap":
        raise FetchError(f"--for-radio fetches from a TAP service; survey {definition.name} is "
                         f"{definition.source_kind!r}")
    if definition.epoch.fixed is None:
        raise FetchError(f"--for-radio needs the star catalogue's epoch; {definition.name} has none fixed")
    footprint = radio_footprint(fs, catalogs_root, radio, float(definition.epoch.fixed), radius_arcsec)
    star_name = name or definition.name
    todo = footprint.cells & ~fetched_cells(fs, f"{catalogs_root.rstrip('/')}/{star_name}")
    chosen, reason = choose_mode(footprint, todo, mode)
    n_columns = len(tap_columns(definition))
    if chosen == "upload":
        star_name = name or f"{definition.name}_near_{footprint.name}"
        todo = footprint.cells
        share = _circles_fraction(footprint.n_rows, footprint.margin.arcsec)
        rows = definition.source.get("sky_rows")
        est_rows = round(float(rows) * share) if rows else None
        est = FetchEstimate(definition.name, f"{footprint.n_rows:,} circles of {footprint.margin.arcsec:.0f} arcsec",
                            share, est_rows, est_rows * n_columns * 8 if est_rows is not None else None)
    else:
        est = estimate(definition, fp.region_of(todo), n_columns)
    return FootprintPlan(footprint, todo, chosen, reason, star_name, est)


def check_plan_size(plan: FootprintPlan, allow_large: bool) -> None:
    """FetchTooLarge with the estimated rows and bytes before anything is fetched (see fetch_size)."""
    refuse_if_too_large(plan.estimate, whole_sky=bool(plan.todo.all()), allow_large=allow_large,
                        hint="Fetch for a radio catalogue covering less sky (a region of it, under its own --name)")


@dataclass
class FetchContext:
    """Where a footprint fetch reads from and keeps its state."""

    definition: SurveyDefinition
    fs: pafs.FileSystem
    raw_base: str  # <raw_root>/<survey>
    url: str
    policy: RetryPolicy
    page_size: int
    progress: Callable[[str, int, int | None], None] = lambda stage, done, total: None
    queries: int = 0  # pages fetched from the service by this process

    @property
    def staging(self) -> str:
        key = hashlib.sha256(json.dumps([self.definition.fingerprint(), self.url]).encode()).hexdigest()[:16]
        return f"{self.raw_base}/footprint-{key}"


def _record_path(ctx: FetchContext, unit_key: str, condition: str) -> str:
    return f"{ctx.staging}/units/{unit_key}-{hashlib.sha256(condition.encode()).hexdigest()[:12]}.json"


def _write_atomic(fs: pafs.FileSystem, path: str, text: str) -> None:
    """Write then move into place: a reader (a resumed fetch) sees the old record or the new, never half."""
    cat.write_text(fs, path + ".tmp", text)
    fs.move(path + ".tmp", path)


def _store_page(ctx: FetchContext, art: RawArtifact) -> str:
    key = f"{ctx.raw_base}/{art.sha256[:16]}/{art.name}"
    if not cat.exists(ctx.fs, key):
        cat.ensure_parent(ctx.fs, key)
        with art.local_path.open("rb") as fin, ctx.fs.open_output_stream(key) as fout:
            while block := fin.read(1 << 22):
                fout.write(block)
    return key


def _restore_page(ctx: FetchContext, page: dict[str, Any], work_dir: Path) -> RawArtifact:
    dest = work_dir / page["name"]
    with ctx.fs.open_input_stream(page["object"]) as fin, dest.open("wb") as fout:
        while block := fin.read(1 << 22):
            fout.write(block)
    if sha256_file(dest) != page["sha256"]:
        raise FetchError(f"footprint fetch: stored page {page['object']} does not match its checksum")
    return RawArtifact(page["name"], dest, page["sha256"], dest.stat().st_size, page["provenance"])


# size: one page loop with its resumable record; split, the record's updates would be spread over functions
def fetch_unit(ctx: FetchContext, unit_key: str, condition: str, build: Callable[[int, Any], str],
               work_dir: Path, uploads: dict[str, Any] | None = None) -> list[RawArtifact]:
    """All pages of one unit: those its record lists read back from the lake, the rest fetched after the
    record's last id, the record updated after each page."""
    path = _record_path(ctx, unit_key, condition)
    record = (json.loads(cat.read_text(ctx.fs, path)) if cat.exists(ctx.fs, path)
              else {"unit": unit_key, "condition": condition, "pages": [], "after": None, "complete": False})
    artifacts = [_restore_page(ctx, page, work_dir) for page in record["pages"]]
    service = tap_service(ctx.url, ctx.policy) if not record["complete"] else None
    while not record["complete"]:
        number = len(record["pages"])
        if number >= MAX_PAGES_PER_UNIT:
            raise FetchError(f"footprint fetch: unit {unit_key} did not finish after {number} pages")
        adql = build(ctx.page_size, record["after"])
        page = fetch_tap_page(service, adql, ctx.page_size, ctx.policy, work_dir / f"{unit_key}-page-{number:05d}.vot",
                              ctx.definition.source["id_column"], uploads)
        ctx.queries += 1
        art = tap_artifact(page, {"kind": "tap", "url": ctx.url, "query": adql, "page": number, "unit": unit_key})
        record["pages"].append({"name": art.name, "object": _store_page(ctx, art), "sha256": art.sha256,
                                "provenance": art.provenance})
        record["complete"] = page.is_last(ctx.page_size)
        record["after"] = page.last if page.rows else record["after"]
        _write_atomic(ctx.fs, path, json.dumps(record, default=str))
        artifacts.append(art)
    return artifacts


def fetch_pixels(ctx: FetchContext, todo: np.ndarray, work_dir: Path) -> list[RawArtifact]:
    """The cells of `todo`, unit by unit (by id ranges when the id encodes HEALPix, else one query of cones)."""
    src = ctx.definition.source
    units = fp.fetch_units(todo)
    id_col = _adql_name(src["id_column"])
    hp_id = src.get("healpix_id")
    if hp_id:
        jobs = [(u.key, u.id_condition(id_col, int(hp_id["order"]), int(hp_id["scale"]))) for u in units]
    else:
        ra, dec = _adql_name(src.get("ra_column", "ra")), _adql_name(src.get("dec_column", "dec"))
        cones = " OR ".join(fp.unit_cone(u).adql(ra, dec) for u in units)
        jobs = [(f"{fp.FETCH_UNIT_ORDER}-cones", f"({cones})")]
    artifacts: list[RawArtifact] = []
    for done, (key, condition) in enumerate(jobs):
        ctx.progress("fetch", done, len(jobs))

        def build(page_size: int, after: Any, condition: str = condition) -> str:
            return build_tap_query(ctx.definition, Region("all"), page_size, after, condition=condition)

        artifacts += fetch_unit(ctx, key, condition, build, work_dir)
    ctx.progress("fetch", len(jobs), len(jobs))
    return artifacts
