"""`radiolake lake versions NAME` and `radiolake lake prune NAME --keep N`: a growing catalogue's versions.

Each ingest keeps the newest two versions (and every version a cross-match run pinned); a catalogue grown
region by region keeps older versions cheaply (they share files), so how many to keep is the user's call.
Pruning never deletes a file a kept version lists (`versions.delete_version`) and runs under the catalogue's
ingest lock, so it never races an ingest's commit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pyarrow.fs as pafs
import typer
from rich.console import Console

from radiolake.ingest import catalog as cat

lake_app = typer.Typer(help="Versions of the lake's catalogues: list them, prune old ones.", no_args_is_help=True)


def _where(name: str, local: Path | None):
    from radiolake.config import get_settings

    settings = get_settings()
    if local is not None:
        return pafs.LocalFileSystem(), f"{local.resolve()}/{name}", settings
    from radiolake.lake import arrow_fs

    return arrow_fs(settings), f"{settings.bucket('catalogs')}/{name}", settings


LocalOpt = Annotated[Path | None, typer.Option(help="A catalogue folder written with `ingest --local`.")]


@lake_app.command("versions")
def versions(name: Annotated[str, typer.Argument(help="Catalogue name.")], local: LocalOpt = None) -> None:
    """List a catalogue's versions: rows, partitions written or shared, sky coverage (deg² and fraction of the
    sky, from the version's MOC), which is CURRENT."""
    from radiolake.ingest import coverage

    fs, base, _ = _where(name, local)
    current = cat.current_version(fs, base)
    console = Console(soft_wrap=True)
    console.print("version  current  rows  partitions(own/shared)  coverage(deg²)  sky-fraction  regions")
    for version, committed in cat.list_versions(fs, base).items():
        if not committed:
            continue
        meta = cat.open_catalog(fs, base, version).metadata
        shared = sum(1 for p in meta["partitions"] if p.get("version"))
        regions = ", ".join(layer["region"] for layer in meta.get("layers", [])) or meta.get("region", "")
        covered = coverage.read_coverage(fs, base, version)
        console.print(f"{version}  {'*' if version == current else '-'}  {meta['n_rows']:,}  "
                      f"{meta['n_partitions'] - shared}/{shared}  {coverage.area_deg2(covered):,.1f}  "
                      f"{coverage.sky_fraction(covered):.5f}  {regions}", markup=False)


@lake_app.command("prune")
def prune(name: Annotated[str, typer.Argument(help="Catalogue name.")],
          keep: Annotated[int, typer.Option(min=1, help="Versions to keep (CURRENT is always one).")] = 2,
          local: LocalOpt = None) -> None:
    """Delete all but the newest KEEP versions (pinned versions and files kept versions share stay)."""
    from radiolake.ingest.lock import catalog_lock
    from radiolake.ingest.partition_writer import prune_versions

    fs, base, settings = _where(name, local)
    if cat.current_version(fs, base) is None:
        raise typer.BadParameter(f"no committed catalogue {name!r} at {base}", param_hint="NAME")
    with catalog_lock(base, fs, settings):
        removed = prune_versions(fs, base, keep)
    Console().print(f"{name}: pruned {len(removed)} version(s) {' '.join(removed)}; kept the newest {keep}")
