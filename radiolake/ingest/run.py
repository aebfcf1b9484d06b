"""Ingest orchestration, shared by the Airflow DAG and the CLI: fetch → raw → normalize → partitioned write.

1. Fetch the survey (or generate it) and store every fetched file, as fetched, in the raw bucket under
   ``<survey>/<sha256[:16]>/<file>`` with a ``provenance.json`` (query or URL, time, versions, checksum).
2. Derive the catalogue version from the inputs (definition fingerprint, raw checksums, region, generator
   parameters, partitioning): the same input always gives the same version, so a rerun finds it committed
   and writes nothing — one catalogue, not two.
3. Normalize every row; rejected rows go to ``quarantine/<version>.parquet`` with their reasons. A file that
   cannot be read, or lacks a mapped column, is quarantined as a whole and fails the ingest; so does a bad
   share above ``max_bad_fraction``. Either way the quarantine is written first: nothing is lost.
4. Write HEALPix partitions, the metadata and the HATS files, commit, move CURRENT (see `catalog`).

`ingest_survey` takes what to ingest as keywords (an `IngestRequest`'s fields) and where to write it (a
`LakeTarget`'s); `run_ingest` takes the two objects. Each numbered step above is one function below.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from radiolake.config import Settings, get_settings
from radiolake.import_paths import ImportFile
from radiolake.ingest import catalog as cat
from radiolake.ingest.fetch_size import FetchTooLarge, check_fetch_size
from radiolake.ingest.growth import GrowthPlan, plan_growth
from radiolake.ingest.lock import catalog_lock
from radiolake.ingest.normalize import (
    IdTracker,
    MissingColumnError,
    NormalizeStats,
    file_quarantine_row,
    normalize_batch,
    output_schema,
)
from radiolake.ingest.partition_writer import (
    DEFAULT_MAX_ROWS,
    PartitionedCatalogWriter,
    cleanup_uncommitted,
    point_current,
    prune_versions,
)
from radiolake.ingest.readers import ReadError, detect_format, read_batches
from radiolake.ingest.region import Region, parse_region
from radiolake.ingest.sources import RawArtifact, RetryPolicy, fetch, software_versions, tap_columns
from radiolake.ingest.synthetic import generate_synthetic_sky
from radiolake.surveys import SurveyDefinition, get_survey

log = logging.getLogger(__name__)

#: Bump when normalization or layout changes, so old versions are not mistaken for current output.
PIPELINE_VERSION = 1
KEEP_VERSIONS = 2

Progress = Callable[[str, int, int | None], None]  # (stage, rows done, total rows or None)
Batches = Callable[[], Iterator[tuple[str, pa.Table]]]  # (source file name, rows read from it)


class IngestError(RuntimeError):
    """The ingest failed as a whole (unreadable file, missing column); the quarantine says which file."""


class BadBatchError(IngestError):
    """Too many rows were rejected: the share is above the threshold. Nothing was committed."""


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest: a survey, the part of the sky, its input, and how strict to be.

    `path` (a local file or an opened ImportFile) or `source_url` replace the survey's own source; without
    them an online survey is fetched (refused when larger than the configured limit unless
    `allow_large_fetch`, see fetch_size.py) and a synthetic one generated (`rows`, `seed`)."""

    survey: str | SurveyDefinition
    region: str | Region | None = None
    rows: int | None = None
    seed: int | None = None
    path: str | Path | ImportFile | None = None
    name: str | None = None  # the catalogue's name; the survey's by default
    max_bad_fraction: float | None = None  # the survey definition's by default
    source_url: str | None = None
    tap_page_size: int | None = None
    retry: RetryPolicy | None = None
    allow_large_fetch: bool = False
    max_rows_per_partition: int = DEFAULT_MAX_ROWS
    progress: Progress | None = None
    #: A fetch of its own that replaces the survey's (the footprint fetch: resumable, pixel by pixel); it
    #: gets the local work folder and returns the fetched files. The size check runs before it all the same.
    fetcher: Callable[[Path], list[RawArtifact]] | None = None


@dataclass(frozen=True)
class LakeTarget:
    """Where an ingest writes: any pyarrow filesystem, with the catalogs and raw roots in it. Left out, they
    are the lake of `settings` (RADIOLAKE_* settings when that too is left out)."""

    fs: pafs.FileSystem | None = None
    catalogs_root: str | None = None
    raw_root: str | None = None
    settings: Settings | None = None


_TARGET_FIELDS = frozenset(f.name for f in fields(LakeTarget))


@dataclass
class IngestResult:
    name: str
    survey: str
    version: str
    reused: bool
    n_rows: int
    n_quarantined: int
    catalog_path: str
    quarantine_path: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "catalog": self.name,
            "survey": self.survey,
            "version": self.version,
            "reused": self.reused,
            "rows": self.n_rows,
            "quarantined": self.n_quarantined,
            "path": self.catalog_path,
        }


@dataclass(frozen=True)
class _Job:
    """One ingest's request resolved: the definition, the region, and the folders it reads and writes."""

    request: IngestRequest
    definition: SurveyDefinition
    region: Region
    name: str
    threshold: float
    fs: pafs.FileSystem
    base: str  # <catalogs_root>/<name>
    raw_base: str  # <raw_root>/<survey>
    settings: Settings | None
    tmp: str
    progress: Progress


@dataclass
class _Source:
    """The rows to ingest (read lazily), and what identifies and describes them."""

    batches: Batches
    inputs: list[str]  # raw checksums or the generator's key: the version is derived from them
    raw_records: list[dict[str, Any]]
    total: int | None = None  # rows expected, when known up front
    extra: dict[str, Any] = field(default_factory=dict)  # more version inputs (partitioning, generator)
    truth: pa.Table | None = None  # injected radio stars of a synthetic sky


@dataclass
class _Normalized:
    """What normalising every batch left: the writer holding the good rows, the counts, the quarantine."""

    writer: PartitionedCatalogWriter
    stats: NormalizeStats
    quarantine_path: str | None
    outside_region: int


def synthetic_params(definition: SurveyDefinition, rows: int | None, seed: int | None) -> dict[str, int]:
    """Generator sizes: the definition's, or scaled so that n_stars == rows (same ratios for the radio half,
    so `synthetic_stars` and `synthetic_radio` ingested with the same --rows/--seed form a matching pair)."""
    src = definition.source
    base = {k: int(src[k]) for k in ("n_stars", "n_radio_background", "n_radio_stars")}
    if rows is not None:
        scale = rows / base["n_stars"]
        base = {
            "n_stars": int(rows),
            "n_radio_background": int(round(base["n_radio_background"] * scale)),
            "n_radio_stars": min(int(rows), max(1, int(round(base["n_radio_stars"] * scale)))),
        }
    base["seed"] = int(seed if seed is not None else src.get("seed", 0))
    return base


def ingest_survey(survey: str | SurveyDefinition | IngestRequest, **options: Any) -> IngestResult:
    """Ingest one survey into the lake (or any pyarrow filesystem) and return what was committed.

    `options` are IngestRequest's fields (region, rows, seed, path, name, ...) and LakeTarget's (fs,
    catalogs_root, raw_root, settings); an unknown name is a TypeError, as for any call. The catalogue lands
    at ``<catalogs_root>/<name>``."""
    where = {k: options.pop(k) for k in list(options) if k in _TARGET_FIELDS}
    request = survey if isinstance(survey, IngestRequest) else IngestRequest(survey, **options)
    return run_ingest(request, LakeTarget(**where))


def run_ingest(request: IngestRequest, target: LakeTarget | None = None) -> IngestResult:
    """The ingest's steps in order (module docstring), under the catalogue's lock from the version on."""
    with tempfile.TemporaryDirectory(prefix="radiolake-ingest-") as tmp, contextlib.ExitStack() as held:
        job = _resolve(request, target or LakeTarget(), tmp)
        source = _open_source(job)
        input_id = _version_id(job.definition, source.inputs, job.region, source.extra)
        # From here on this ingest alone writes the catalogue's versions, CURRENT and pins (see ingest.lock).
        held.enter_context(catalog_lock(job.base, job.fs, job.settings))
        # A region grows CURRENT (its other regions' partitions shared), see ingest.growth. A synthetic sky is
        # drawn per region, numbered from 1: its regions are not one sky, so it replaces the catalogue.
        growth = plan_growth(job.fs, job.base, input_id, job.region, grows="synthetic" not in source.extra)
        version = growth.version
        if cat.is_committed(job.fs, job.base, version):
            return _reuse_committed(job, version)
        removed = cleanup_uncommitted(job.fs, job.base)
        if removed:
            log.warning("ingest %s: removed uncommitted versions left by earlier attempts: %s", job.name, removed)
        normalized = _normalize_all(job, source, version, growth)
        _check_bad_share(job, normalized)
        return _commit(job, source, version, normalized)


def _resolve(request: IngestRequest, target: LakeTarget, tmp: str) -> _Job:
    """The survey definition, region, threshold and folders the request names (defaults filled in)."""
    survey = request.survey
    definition = survey if isinstance(survey, SurveyDefinition) else get_survey(survey)
    region = request.region if isinstance(request.region, Region) else parse_region(request.region)
    name = request.name or definition.name
    fraction = request.max_bad_fraction
    threshold = definition.max_bad_fraction if fraction is None else float(fraction)
    fs, catalogs_root, raw_root, settings = target.fs, target.catalogs_root, target.raw_root, target.settings
    if fs is None or catalogs_root is None or raw_root is None:
        from radiolake.lake import arrow_fs

        settings = settings or get_settings()
        fs = fs or arrow_fs(settings)
        catalogs_root = catalogs_root or settings.bucket("catalogs")
        raw_root = raw_root or settings.bucket("raw")
    return _Job(
        request, definition, region, name, threshold, fs,
        base=f"{catalogs_root.rstrip('/')}/{name}",
        raw_base=f"{raw_root.rstrip('/')}/{definition.name}",
        settings=settings,
        tmp=tmp,
        progress=request.progress or (lambda stage, done, total: None),
    )


def _open_source(job: _Job) -> _Source:
    """Step 1: the rows to ingest, generated (a synthetic survey without a file) or fetched and stored raw."""
    if job.definition.source_kind == "synthetic" and job.request.path is None:
        source = _synthetic_source(job)
    else:
        source = _fetched_source(job)
    source.extra["max_rows"] = job.request.max_rows_per_partition
    return source


def _synthetic_source(job: _Job) -> _Source:
    """A generated sky: its parameters are the input (recorded in the raw area as provenance)."""
    definition, region = job.definition, job.region
    params = synthetic_params(definition, job.request.rows, job.request.seed)
    sky = generate_synthetic_sky(
        params["n_stars"], params["n_radio_background"], params["n_radio_stars"], params["seed"], region
    )
    stream = definition.source.get("stream", "stars")
    raw_records = [{"kind": "synthetic", "stream": stream, **params, "region": str(region)}]
    raw_key = hashlib.sha256(json.dumps(raw_records, sort_keys=True).encode()).hexdigest()
    prefix = f"{job.raw_base}/synthetic-{raw_key[:16]}"
    cat.write_text(job.fs, f"{prefix}/provenance.json", json.dumps(raw_records[0], indent=1))

    def batches() -> Iterator[tuple[str, pa.Table]]:
        for batch in sky.stars() if stream == "stars" else sky.radio():
            yield "synthetic", pa.Table.from_batches([batch])

    truth = None
    if stream == "radio":
        star_prefix = definition.source.get("star_prefix", "synthetic_stars")
        truth = sky.truth(radio_prefix=definition.id_prefix, star_prefix=star_prefix)
    total = sky.n_stars if stream == "stars" else sky.n_radio
    return _Source(batches, [raw_key], raw_records, total, {"synthetic": params}, truth)


def _fetched_source(job: _Job) -> _Source:
    """Files fetched from the survey's service (after the size check), a URL or a local file, stored raw."""
    definition, request = job.definition, job.request
    if request.path is None:
        try:
            planned = check_fetch_size(
                definition, job.region, len(tap_columns(definition)), request.allow_large_fetch
            )
        except FetchTooLarge as exc:
            raise IngestError(str(exc)) from exc
        if planned is not None:
            log.info("ingest %s: fetching %s", job.name, planned.describe())
    job.progress("fetch", 0, None)
    artifacts = request.fetcher(Path(job.tmp)) if request.fetcher is not None else fetch(
        definition,
        job.region,
        Path(job.tmp),
        path=request.path,
        url=request.source_url,
        policy=request.retry,
        page_size=request.tap_page_size,
    )
    raw_records = _store_raw(job.fs, job.raw_base, artifacts)

    def batches() -> Iterator[tuple[str, pa.Table]]:
        for art in artifacts:
            fmt = detect_format(art.name, definition.format)
            for table in read_batches(art.local_path, fmt, definition.read_options):
                yield art.name, table

    return _Source(batches, [a.sha256 for a in artifacts], raw_records)


def _store_raw(fs: pafs.FileSystem, raw_base: str, artifacts: list[RawArtifact]) -> list[dict[str, Any]]:
    """Copy fetched files into the raw area (content-addressed, so reruns rewrite nothing)."""
    records = []
    for art in artifacts:
        prefix = f"{raw_base}/{art.sha256[:16]}"
        key = f"{prefix}/{art.name}"
        if not cat.exists(fs, key):
            cat.ensure_parent(fs, key)
            with art.local_path.open("rb") as fin, fs.open_output_stream(key) as fout:
                while block := fin.read(1 << 22):
                    fout.write(block)
        record = {"object": key, "sha256": art.sha256, "bytes": art.size, **art.provenance}
        if not cat.exists(fs, f"{prefix}/provenance.json"):
            cat.write_text(fs, f"{prefix}/provenance.json", json.dumps(record, indent=1))
        records.append(record)
    return records


def _version_id(
    definition: SurveyDefinition, inputs: list[str], region: Region, extra: dict[str, Any]
) -> str:
    """Step 2: the version named by the inputs, so the same input always gives the same version."""
    payload = {
        "pipeline": PIPELINE_VERSION,
        "definition": definition.fingerprint(),
        "inputs": inputs,
        "region": str(region),
        **extra,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"v{digest[:20]}"


def _reuse_committed(job: _Job, version: str) -> IngestResult:
    """The inputs were ingested before: point CURRENT at that version and write nothing."""
    point_current(job.fs, job.base, version)
    info = cat.open_catalog(job.fs, job.base, version)
    log.info(
        "ingest %s: inputs unchanged, version %s already committed (%d rows); nothing written",
        job.name,
        version,
        info.n_rows,
    )
    q = info.metadata.get("quarantine", {})
    return IngestResult(
        job.name,
        job.definition.name,
        version,
        True,
        info.n_rows,
        q.get("rows_quarantined", 0),
        info.path,
        q.get("path"),
        info.metadata,
    )


def _new_writer(job: _Job, version: str, schema: pa.Schema, growth: GrowthPlan) -> PartitionedCatalogWriter:
    return PartitionedCatalogWriter(
        job.fs, job.base, version, schema, max_rows=job.request.max_rows_per_partition, spill_dir=job.tmp,
        growth=growth,
    )


def _normalize_all(job: _Job, source: _Source, version: str, growth: GrowthPlan) -> _Normalized:
    """Step 3: normalise every batch into the writer, rejected rows to the quarantine (written either way).

    A file that cannot be read or lacks a mapped column fails the ingest (IngestError) once it is quarantined."""
    stats, ids = NormalizeStats(), IdTracker()
    quarantine: list[pa.Table] = []
    writer: PartitionedCatalogWriter | None = None
    outside_region = 0
    offsets: dict[str, int] = {}
    current_source = ""
    try:
        for current_source, raw in source.batches():
            if writer is None:
                writer = _new_writer(job, version, output_schema(job.definition, raw.schema), growth)
            good, bad = normalize_batch(
                job.definition,
                raw,
                source=current_source,
                row_offset=offsets.get(current_source, 0),
                ids=ids,
                stats=stats,
                schema=writer.schema,
            )
            offsets[current_source] = offsets.get(current_source, 0) + raw.num_rows
            good, outside = _inside_region(job.region, good)
            outside_region += outside
            writer.write(good)
            quarantine.append(bad)
            job.progress("normalize", stats.rows_read, source.total)
    except (ReadError, MissingColumnError) as exc:
        reason = getattr(exc, "reason", "unreadable_file")
        quarantine.append(file_quarantine_row(job.definition, current_source or "?", reason, str(exc)))
        qpath = _write_quarantine(job.fs, job.base, version, quarantine)
        if writer is not None:
            writer.close()
        raise IngestError(
            f"ingest {job.name}: {exc} — file quarantined at {qpath}; the raw file is kept in "
            f"{job.raw_base}; nothing was committed"
        ) from exc
    qpath = _write_quarantine(job.fs, job.base, version, quarantine)
    if writer is None:  # a region with no rows at all: an empty, but whole, catalogue
        writer = _new_writer(job, version, output_schema(job.definition), growth)
    return _Normalized(writer, stats, qpath, outside_region)


def _inside_region(region: Region, good: pa.Table) -> tuple[pa.Table, int]:
    """The rows inside the region (a fetch may return a margin around it), and how many were outside."""
    if region.kind == "all" or not good.num_rows:
        return good, 0
    inside = region.contains(good.column("ra").to_numpy(), good.column("dec").to_numpy())
    return good.filter(pa.array(inside)), int((~inside).sum())


def _write_quarantine(fs: pafs.FileSystem, base: str, version: str, parts: list[pa.Table]) -> str | None:
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None
    path = cat.quarantine_path(base, version)
    cat.ensure_parent(fs, path)
    pq.write_table(pa.concat_tables(parts), path, filesystem=fs)
    return path


def _check_bad_share(job: _Job, normalized: _Normalized) -> None:
    """Refuse the batch (BadBatchError, nothing committed) when too large a share of rows was rejected."""
    stats, qpath = normalized.stats, normalized.quarantine_path
    log.info(
        "ingest %s: read %d rows, %d good, %d quarantined (%s), %d outside region",
        job.name,
        stats.rows_read,
        stats.rows_good,
        stats.rows_quarantined,
        dict(stats.reasons),
        normalized.outside_region,
    )
    if stats.bad_fraction > job.threshold:
        normalized.writer.close()
        raise BadBatchError(
            f"ingest {job.name}: {stats.rows_quarantined} of {stats.rows_read} rows rejected "
            f"({stats.bad_fraction:.1%} > max_bad_fraction {job.threshold:.1%}); "
            f"reasons {dict(stats.reasons)}; "
            f"rows kept in {qpath}; nothing was committed"
        )


def _catalog_metadata(job: _Job, source: _Source, normalized: _Normalized) -> dict[str, Any]:
    """The catalogue's metadata.json: the survey, units, epochs, region, quarantine and provenance."""
    definition, counts = job.definition, normalized.stats.as_dict()
    return {
        "name": job.name,
        "survey": definition.name,
        "kind": definition.kind,
        "title": definition.title,
        "citation": definition.citation,
        "licence": definition.licence,
        "id_prefix": definition.id_prefix,
        "units": definition.units(),
        "epoch_rule": definition.epoch.describe(),
        "epoch_min": counts["epoch_min"],
        "epoch_max": counts["epoch_max"],
        "region": str(job.region),
        "rows_outside_region": normalized.outside_region,
        "quarantine": {**counts, "path": normalized.quarantine_path, "max_bad_fraction": job.threshold},
        "provenance": {
            "raw": source.raw_records,
            "software": software_versions(),
            "definition_fingerprint": definition.fingerprint(),
            "pipeline_version": PIPELINE_VERSION,
            **({"synthetic": source.extra["synthetic"]} if "synthetic" in source.extra else {}),
        },
    }


def _commit(job: _Job, source: _Source, version: str, normalized: _Normalized) -> IngestResult:
    """Step 4: write the partitions, metadata and HATS files, commit, move CURRENT, prune old versions."""
    writer = normalized.writer
    job.progress("write", 0, writer.rows)
    done = [0]

    def on_partition(n: int) -> None:
        done[0] += n
        job.progress("write", done[0], writer.rows)

    extra_tables = {"truth": source.truth} if source.truth is not None else None
    meta = writer.finish(_catalog_metadata(job, source, normalized), extra_tables=extra_tables,
                         progress=on_partition)
    point_current(job.fs, job.base, version)
    pruned = prune_versions(job.fs, job.base, KEEP_VERSIONS)
    if pruned:
        log.info("ingest %s: pruned old versions %s", job.name, pruned)
    counts = np.array([p["rows"] for p in meta["partitions"]] or [0])
    log.info(
        "ingest %s: committed version %s, %d rows in %d partitions (max %d)",
        job.name,
        version,
        meta["n_rows"],
        meta["n_partitions"],
        counts.max(),
    )
    return IngestResult(
        job.name,
        job.definition.name,
        version,
        False,
        meta["n_rows"],
        normalized.stats.rows_quarantined,
        cat.version_path(job.base, version),
        normalized.quarantine_path,
        meta,
    )
