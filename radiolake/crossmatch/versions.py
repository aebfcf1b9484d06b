"""Pin the exact catalogue versions a cross-match run reads, before it reads them.

A lake catalogue's CURRENT can move while a run is queued or running (another ingest commits). The runner
therefore resolves each input once, to `<catalogue>/versions/<v>` (the version the pipeline's own ingest
produced when it is given, else CURRENT), records a pin beside the catalogue (so pruning keeps that version,
see `radiolake.ingest.pins`) and reads only that version. The versions go into run.json as
`catalog_versions`, and from there into the marts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from radiolake.crossmatch.io import PINNED_VERSION, resolve_location
from radiolake.ingest import catalog as cat
from radiolake.ingest import pins


@dataclass(frozen=True)
class PinnedInput:
    location: str  # what the job reads
    catalog: str  # the catalogue's name (run.json radio_catalog / star_catalog)
    version: str | None  # None: a plain Parquet file or folder, not a versioned lake catalogue

    def record(self) -> dict:
        return {"catalog": self.catalog, "version": self.version}


def _fs_and_base(location: str) -> tuple[pafs.FileSystem, str]:
    if location.startswith("s3://"):
        from radiolake.lake import arrow_fs
        from radiolake.spark.io import strip_scheme

        return arrow_fs(), strip_scheme(location).rstrip("/")
    return pafs.LocalFileSystem(), str(Path(location).resolve())


def pin_input(location: str, run_id: str, version: str | None = None) -> PinnedInput:
    """Resolve `location` to one committed version, pin it for `run_id`, and say what to read."""
    location = resolve_location(location).rstrip("/")
    if pinned := PINNED_VERSION.fullmatch(location):  # already names a version
        location, version = pinned["base"], version or pinned["version"]
    fs, base = _fs_and_base(location)
    name = base.rsplit("/", 1)[-1]
    if version is None and not cat.exists(fs, f"{base}/{cat.CURRENT}"):
        return PinnedInput(location, name, None)
    version = version or cat.current_version(fs, base)
    if version is None or not cat.is_committed(fs, base, version):
        raise cat.CatalogNotFound(f"catalogue {location}: no committed version"
                                  + (f" {version}" if version else "") + " to read")
    pins.pin_version(fs, base, run_id, version)
    if not cat.is_committed(fs, base, version):  # pruned between the check and the pin
        raise cat.CatalogNotFound(f"catalogue {location}: version {version} was pruned before run {run_id} "
                                  "could pin it; rerun to read the current version")
    return PinnedInput(f"{location}/versions/{version}", name, version)
