"""Catalogues that grow region by region: which version an ingest makes, and from what.

Surveys are released and fetched region by region. An ingest of a region R does not replace the catalogue: the
new version is CURRENT's rows outside R plus the input's rows inside R. CURRENT's partitions that R does not
touch are shared by the new version (its metadata points at the files where they are; nothing is copied), the
ones it touches are rewritten (their rows outside R kept). A whole-sky ingest replaces everything.

Each version lists its `layers`: the ingests (input id, region) whose rows it still holds. An ingest whose input
and region are those of a layer no later layer overlaps would rewrite the same rows: it writes nothing and
CURRENT stays. A grown version's id is a hash of the version it grew from and the input, so a rerun after a
crash between commit and CURRENT finds it committed. All of this runs under the catalogue's ingest lock
(`lock`): CURRENT cannot move between planning and committing, so two regional ingests of one catalogue both
land, one on top of the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest.region import Region, parse_region
from radiolake.ingest.versions import committed_versions, holds_shared, referenced_files


@dataclass(frozen=True)
class GrowthPlan:
    """What an ingest of `region` with input `input_id` commits."""

    version: str
    region: Region
    input_id: str
    previous: cat.CatalogInfo | None = None  # the version grown from (None: first ingest, or the whole sky)
    unchanged: bool = False  # CURRENT already holds exactly this input over this region
    layers: list[dict[str, Any]] = field(default_factory=list)  # the new version's layers


def layers_of(info: cat.CatalogInfo) -> list[dict[str, Any]]:
    """The layers of a version (a version from before growth is one layer: its own input and region)."""
    return info.metadata.get("layers") or [
        {"input": info.version, "region": info.metadata.get("region", "all"), "version": info.version}
    ]


def grown_version_id(previous: str, input_id: str) -> str:
    return "v" + hashlib.sha256(f"{previous}+{input_id}".encode()).hexdigest()[:20]


def plan_growth(fs: pafs.FileSystem, base: str, input_id: str, region: Region, *, grows: bool = True) -> GrowthPlan:
    """Decide the version an ingest makes (call with the catalogue's ingest lock held); `grows=False`: the
    input replaces the catalogue (a synthetic sky, whose regions are drawn independently)."""
    new_layer = {"input": input_id, "region": str(region)}
    current = cat.current_version(fs, base)
    if current is None or region.kind == "all" or not grows:
        version = _free_id(fs, base, input_id)
        return GrowthPlan(version, region, input_id, layers=[{**new_layer, "version": version}])
    info = cat.open_catalog(fs, base, current)
    layers = layers_of(info)
    if _holds(layers, new_layer):
        return GrowthPlan(current, region, input_id, previous=info, unchanged=True, layers=layers)
    version = _free_id(fs, base, grown_version_id(current, input_id))
    cells = coverage.region_cells(region)
    kept = [layer for layer in layers if (coverage.region_cells(parse_region(layer["region"])) & ~cells).any()]
    return GrowthPlan(version, region, input_id, previous=info, layers=[*kept, {**new_layer, "version": version}])


def _free_id(fs: pafs.FileSystem, base: str, version: str) -> str:
    """`version`, unless its folder is what is left of a pruned version whose files newer versions still share
    (the new version would overwrite them): then a derived id."""
    folder = cat.version_path(base, version)
    while cat.exists(fs, folder) and not cat.is_committed(fs, base, version) and holds_shared(
            folder, referenced_files(fs, base, committed_versions(fs, base))):
        version = grown_version_id(version, "again")
        folder = cat.version_path(base, version)
    return version


def _holds(layers: list[dict[str, Any]], new_layer: dict[str, Any]) -> bool:
    """Is `new_layer`'s input over its region already a layer that no later layer overlaps?"""
    cells = coverage.region_cells(parse_region(new_layer["region"]))
    for layer in reversed(layers):
        if layer["input"] == new_layer["input"] and layer["region"] == new_layer["region"]:
            return True
        if (coverage.region_cells(parse_region(layer["region"])) & cells).any():
            return False
    return False
