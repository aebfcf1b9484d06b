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
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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


class IngestError(RuntimeError):
    """The ingest failed as a whole (unreadable file, missing column); the quarantine says which file."""


class BadBatchError(IngestError):
    """Too many rows were rejected: the share is above the threshold. Nothing was committed."""


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
    payload = {
        "pipeline": PIPELINE_VERSION,
        "definition": definition.fingerprint(),
        "inputs": inputs,
        "region": str(region),
        **extra,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
    return f"v{digest[:20]}"


def _write_quarantine(fs: pafs.FileSystem, base: str, version: str, parts: list[pa.Table]) -> str | None:
    parts = [p for p in parts if p.num_rows]
    if not parts:
        return None
    path = cat.quarantine_path(base, version)
    cat.ensure_parent(fs, path)
    pq.write_table(pa.concat_tables(parts), path, filesystem=fs)
    return path


def ingest_survey(
    survey: str | SurveyDefinition,
    *,
    region: str | Region | None = None,
    rows: int | None = None,
    seed: int | None = None,
    path: str | Path | ImportFile | None = None,
    name: str | None = None,
    max_bad_fraction: float | None = None,
    fs: pafs.FileSystem | None = None,
    catalogs_root: str | None = None,
    raw_root: str | None = None,
    settings: Settings | None = None,
    max_rows_per_partition: int = DEFAULT_MAX_ROWS,
    retry: RetryPolicy | None = None,
    source_url: str | None = None,
    tap_page_size: int | None = None,
    progress: Progress | None = None,
    allow_large_fetch: bool = False,
) -> IngestResult:
    """Ingest one survey into the lake (or any pyarrow filesystem) and return what was committed.

    `catalogs_root`/`raw_root` default to the catalogs/raw buckets of `settings`; the catalogue lands at
    ``<catalogs_root>/<name>`` (name defaults to the survey's). An online fetch larger than the configured
    limit, or of the whole sky from a table of unknown size, is refused before anything is downloaded unless
    `allow_large_fetch` (radiolake/ingest/fetch_size.py)."""
    definition = survey if isinstance(survey, SurveyDefinition) else get_survey(survey)
    region = region if isinstance(region, Region) else parse_region(region)
    name = name or definition.name
    threshold = definition.max_bad_fraction if max_bad_fraction is None else float(max_bad_fraction)
    if fs is None or catalogs_root is None or raw_root is None:
        from radiolake.lake import arrow_fs

        settings = settings or get_settings()
        fs = fs or arrow_fs(settings)
        catalogs_root = catalogs_root or settings.bucket("catalogs")
        raw_root = raw_root or settings.bucket("raw")
    base = f"{catalogs_root.rstrip('/')}/{name}"
    raw_base = f"{raw_root.rstrip('/')}/{definition.name}"
    progress = progress or (lambda stage, done, total: None)

    with tempfile.TemporaryDirectory(prefix="radiolake-ingest-") as tmp, contextlib.ExitStack() as held:
        extra: dict[str, Any] = {"max_rows": max_rows_per_partition}
        truth: pa.Table | None = None
        if definition.source_kind == "synthetic" and path is None:
            params = synthetic_params(definition, rows, seed)
            sky = generate_synthetic_sky(
                params["n_stars"],
                params["n_radio_background"],
                params["n_radio_stars"],
                params["seed"],
                region,
            )
            stream = definition.source.get("stream", "stars")
            total = sky.n_stars if stream == "stars" else sky.n_radio
            raw_records = [{"kind": "synthetic", "stream": stream, **params, "region": str(region)}]
            raw_key = hashlib.sha256(json.dumps(raw_records, sort_keys=True).encode()).hexdigest()
            prefix = f"{raw_base}/synthetic-{raw_key[:16]}"
            cat.write_text(fs, f"{prefix}/provenance.json", json.dumps(raw_records[0], indent=1))
            inputs = [raw_key]
            extra["synthetic"] = params

            def batches() -> Iterator[tuple[str, pa.Table]]:
                for batch in sky.stars() if stream == "stars" else sky.radio():
                    yield "synthetic", pa.Table.from_batches([batch])

            if stream == "radio":
                star_prefix = definition.source.get("star_prefix", "synthetic_stars")
                truth = sky.truth(radio_prefix=definition.id_prefix, star_prefix=star_prefix)
        else:
            if path is None:
                try:
                    planned = check_fetch_size(definition, region, len(tap_columns(definition)), allow_large_fetch)
                except FetchTooLarge as exc:
                    raise IngestError(str(exc)) from exc
                if planned is not None:
                    log.info("ingest %s: fetching %s", name, planned.describe())
            progress("fetch", 0, None)
            artifacts = fetch(
                definition,
                region,
                Path(tmp),
                path=path,
                url=source_url,
                policy=retry,
                page_size=tap_page_size,
            )
            raw_records = _store_raw(fs, raw_base, artifacts)
            inputs = [a.sha256 for a in artifacts]
            total = None

            def batches() -> Iterator[tuple[str, pa.Table]]:
                for art in artifacts:
                    fmt = detect_format(art.name, definition.format)
                    for table in read_batches(art.local_path, fmt, definition.read_options):
                        yield art.name, table

        version = _version_id(definition, inputs, region, extra)
        # From here on this ingest alone writes the catalogue's versions, CURRENT and pins (see ingest.lock).
        held.enter_context(catalog_lock(base, fs, settings))
        if cat.is_committed(fs, base, version):
            point_current(fs, base, version)
            info = cat.open_catalog(fs, base, version)
            log.info(
                "ingest %s: inputs unchanged, version %s already committed (%d rows); nothing written",
                name,
                version,
                info.n_rows,
            )
            q = info.metadata.get("quarantine", {})
            return IngestResult(
                name,
                definition.name,
                version,
                True,
                info.n_rows,
                q.get("rows_quarantined", 0),
                info.path,
                q.get("path"),
                info.metadata,
            )
        removed = cleanup_uncommitted(fs, base)
        if removed:
            log.warning("ingest %s: removed uncommitted versions left by earlier attempts: %s", name, removed)

        stats, ids = NormalizeStats(), IdTracker()
        quarantine: list[pa.Table] = []
        writer: PartitionedCatalogWriter | None = None
        outside_region = 0
        offsets: dict[str, int] = {}
        current_source = ""
        try:
            for source, raw in batches():
                current_source = source
                schema = output_schema(definition, raw.schema)
                if writer is None:
                    writer = PartitionedCatalogWriter(
                        fs, base, version, schema, max_rows=max_rows_per_partition, spill_dir=tmp
                    )
                good, bad = normalize_batch(
                    definition,
                    raw,
                    source=source,
                    row_offset=offsets.get(source, 0),
                    ids=ids,
                    stats=stats,
                    schema=writer.schema,
                )
                offsets[source] = offsets.get(source, 0) + raw.num_rows
                if region.kind != "all" and good.num_rows:
                    inside = region.contains(good.column("ra").to_numpy(), good.column("dec").to_numpy())
                    outside_region += int((~inside).sum())
                    good = good.filter(pa.array(inside))
                writer.write(good)
                quarantine.append(bad)
                progress("normalize", stats.rows_read, total)
        except (ReadError, MissingColumnError) as exc:
            reason = getattr(exc, "reason", "unreadable_file")
            quarantine.append(file_quarantine_row(definition, current_source or "?", reason, str(exc)))
            qpath = _write_quarantine(fs, base, version, quarantine)
            if writer is not None:
                writer.close()
            raise IngestError(
                f"ingest {name}: {exc} — file quarantined at {qpath}; the raw file is kept in "
                f"{raw_base}; nothing was committed"
            ) from exc

        qpath = _write_quarantine(fs, base, version, quarantine)
        log.info(
            "ingest %s: read %d rows, %d good, %d quarantined (%s), %d outside region",
            name,
            stats.rows_read,
            stats.rows_good,
            stats.rows_quarantined,
            dict(stats.reasons),
            outside_region,
        )
        if stats.bad_fraction > threshold:
            if writer is not None:
                writer.close()
            raise BadBatchError(
                f"ingest {name}: {stats.rows_quarantined} of {stats.rows_read} rows rejected "
                f"({stats.bad_fraction:.1%} > max_bad_fraction {threshold:.1%}); "
                f"reasons {dict(stats.reasons)}; "
                f"rows kept in {qpath}; nothing was committed"
            )
        if writer is None:  # a region with no rows at all: an empty, but whole, catalogue
            writer = PartitionedCatalogWriter(fs, base, version, output_schema(definition), spill_dir=tmp)

        metadata = {
            "name": name,
            "survey": definition.name,
            "kind": definition.kind,
            "title": definition.title,
            "citation": definition.citation,
            "licence": definition.licence,
            "id_prefix": definition.id_prefix,
            "units": definition.units(),
            "epoch_rule": definition.epoch.describe(),
            "epoch_min": stats.as_dict()["epoch_min"],
            "epoch_max": stats.as_dict()["epoch_max"],
            "region": str(region),
            "rows_outside_region": outside_region,
            "quarantine": {**stats.as_dict(), "path": qpath, "max_bad_fraction": threshold},
            "provenance": {
                "raw": raw_records,
                "software": software_versions(),
                "definition_fingerprint": definition.fingerprint(),
                "pipeline_version": PIPELINE_VERSION,
                **({"synthetic": extra["synthetic"]} if "synthetic" in extra else {}),
            },
        }
        progress("write", 0, writer.rows)
        done = [0]

        def on_partition(n: int) -> None:
            done[0] += n
            progress("write", done[0], writer.rows)

        meta = writer.finish(
            metadata, extra_tables={"truth": truth} if truth is not None else None, progress=on_partition
        )
        point_current(fs, base, version)
        pruned = prune_versions(fs, base, KEEP_VERSIONS)
        if pruned:
            log.info("ingest %s: pruned old versions %s", name, pruned)
        counts = np.array([p["rows"] for p in meta["partitions"]] or [0])
        log.info(
            "ingest %s: committed version %s, %d rows in %d partitions (max %d)",
            name,
            version,
            meta["n_rows"],
            meta["n_partitions"],
            counts.max(),
        )
        return IngestResult(
            name,
            definition.name,
            version,
            False,
            meta["n_rows"],
            stats.rows_quarantined,
            cat.version_path(base, version),
            qpath,
            meta,
        )
