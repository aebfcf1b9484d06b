"""The footprint of a cross-match run: where on the sky its detections are the newest word (issue 22).

A run covers the sky its radio rows come from. The marts supersede per footprint: a detection of an older run
is replaced only where a newer run of the same radio x stellar catalogues covered the sky (a rerun of a region
replaces that region, a run over another region or another epoch's catalogue adds). So each loaded run
carries its footprint in `load.runs.run_json -> 'footprint'`: HEALPix ranges [lo, hi) at order 29 (the
order of every row's `healpix`), which dbt's `stg_run_footprints` unnests.

Where it comes from: run.json's own `footprint` if the run wrote one; else, for a run that matched only the
radio partitions new since an earlier run (radiolake.crossmatch.increment), the sky regions it matched
(`catalog_versions.radio.increment.footprint`): it replaces detections there only; else the coverage MOC
of the radio catalogue version the run pinned (`catalog_versions.radio`: a run reads every row of it); else
(a plain Parquet input, or a catalogue pruned since) none, which the marts take as the whole sky, as before
footprints existed: the newest run then supersedes every older one.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from radiolake.config import Settings

log = logging.getLogger(__name__)

#: Order-29 index past the last pixel of the sky (12 * 4**29).
SKY_END = 12 * 4**29


def ranges_of(mask: np.ndarray, order: int) -> list[list[int]]:
    """Contiguous runs of True cells of `mask` (at `order`) as order-29 [lo, hi) ranges."""
    cells = np.flatnonzero(mask).astype(np.int64)
    if cells.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(cells) != 1)
    starts = np.concatenate([[cells[0]], cells[breaks + 1]])
    ends = np.concatenate([cells[breaks], [cells[-1]]]) + 1
    shift = 2 * (29 - order)
    return [[int(lo) << shift, int(hi) << shift] for lo, hi in zip(starts, ends, strict=True)]


def radio_coverage_footprint(run: dict[str, Any], settings: Settings) -> dict[str, Any] | None:
    """The coverage of the radio catalogue version the run read, as a footprint; None if unknown."""
    record = (run.get("catalog_versions") or {}).get("radio") or {}
    name, version = record.get("catalog"), record.get("version")
    if not name or not version:
        return None
    from radiolake.ingest import catalog as cat
    from radiolake.ingest import coverage
    from radiolake.lake import arrow_fs

    fs, base = arrow_fs(settings), f"{settings.bucket('catalogs')}/{name}"
    try:
        mask = coverage.read_coverage(fs, base, version)
    except (cat.CatalogNotFound, FileNotFoundError, OSError) as exc:
        log.warning("run %s: no coverage for radio catalogue %s version %s (%s): its footprint is the whole "
                    "sky", run.get("run_id"), name, version, exc)
        return None
    return {"order": 29, "ranges": ranges_of(mask, coverage.COVERAGE_ORDER),
            "from": f"coverage of {name} version {version}"}


def add_footprint(run: dict[str, Any], settings: Settings | None) -> None:
    """Set run['footprint'] (before the load stores run.json) unless the run recorded its own."""
    if run.get("footprint"):
        return
    increment = ((run.get("catalog_versions") or {}).get("radio") or {}).get("increment") or {}
    if increment.get("footprint"):
        run["footprint"] = {**increment["footprint"], "from": "regions matched by this increment"}
        return
    if settings is None or not settings.s3_endpoint:
        return
    footprint = radio_coverage_footprint(run, settings)
    if footprint is not None:
        run["footprint"] = footprint
