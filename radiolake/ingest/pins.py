"""Pins: which catalogue version each cross-match run read, kept beside the catalogue so pruning sees them.

``<base>/pins/<run_id>.json`` holds ``{"run_id", "version", "pinned_utc"}``. A run writes its pin before it
reads a row, and pins are never removed with the run, so a version that a running or recorded run read is
never pruned: the run can be reproduced from exactly the rows it saw.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat

PINS = "pins"


def pin_path(base: str, run_id: str) -> str:
    return f"{base}/{PINS}/{run_id}.json"


def pin_version(fs: pafs.FileSystem, base: str, run_id: str, version: str) -> None:
    record = {"run_id": run_id, "version": version, "pinned_utc": datetime.now(UTC).isoformat(timespec="seconds")}
    cat.write_text(fs, pin_path(base, run_id), json.dumps(record))


def pinned_versions(fs: pafs.FileSystem, base: str) -> dict[str, list[str]]:
    """{version: [run ids that read it]} for every pin of the catalogue at `base`."""
    infos = fs.get_file_info(pafs.FileSelector(f"{base}/{PINS}", allow_not_found=True))
    pinned: dict[str, list[str]] = {}
    for info in infos:
        if info.type == pafs.FileType.File and info.base_name.endswith(".json"):
            record = json.loads(cat.read_text(fs, info.path))
            pinned.setdefault(record["version"], []).append(record["run_id"])
    return pinned
