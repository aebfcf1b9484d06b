"""`radiolake ingest SURVEY`: the CLI face of the ingest pipeline (registered in radiolake/cli.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pyarrow.fs as pafs
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radiolake.import_paths import ImportPathError, open_import_file
from radiolake.surveys import SurveyDefinitionError, survey_names


def ingest(
    survey: Annotated[str, typer.Argument(help="Survey definition name (see `--list`).")] = "",
    region: Annotated[
        str | None, typer.Option(help="cone:RA,DEC,R | box:RA1,RA2,DEC1,DEC2 | healpix:K:P,..")
    ] = None,
    rows: Annotated[
        int | None, typer.Option(help="Synthetic only: number of stars (radio scales with it).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Synthetic only: random seed.")] = None,
    path: Annotated[
        Path | None,
        typer.Option(help="Read this local file instead of the survey's source; it must lie in an allowed "
                     "import folder (<state dir>/imports, or RADIOLAKE_IMPORT_DIRS)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Catalogue name (default: the survey name).")] = None,
    max_bad_fraction: Annotated[
        float | None, typer.Option(help="Fail if more rows than this are rejected.")
    ] = None,
    local: Annotated[
        Path | None, typer.Option(help="Write to this local folder instead of the lake.")
    ] = None,
    list_surveys: Annotated[bool, typer.Option("--list", help="List survey definitions and exit.")] = False,
    allow_large_fetch: Annotated[
        bool, typer.Option(help="Fetch even above RADIOLAKE_INGEST_MAX_ROWS rows (default 10 million) or the "
                           "whole sky of a table of unknown size; without it such a fetch is refused with its "
                           "estimated rows and bytes.")
    ] = False,
) -> None:
    """Fetch a survey, validate it (bad rows → quarantine) and write it as a HEALPix-partitioned catalogue."""
    console = Console()
    if list_surveys or not survey:
        for s in survey_names():
            console.print(s)
        return
    if path is not None:
        try:  # opened and checked before anything is read or stored; read through that descriptor
            path = open_import_file(path if path.is_absolute() else path.absolute())
        except ImportPathError as exc:
            console.print(f"[red]ingest failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    kwargs = {}
    if local is not None:
        kwargs = {
            "fs": pafs.LocalFileSystem(),
            "catalogs_root": str((local / "catalogs").resolve()),
            "raw_root": str((local / "raw").resolve()),
        }
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int | None) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        from radiolake.ingest.run import IngestError, ingest_survey  # heavy (astropy): only when used
        try:
            result = ingest_survey(
                survey,
                region=region,
                rows=rows,
                seed=seed,
                path=path,
                name=name,
                max_bad_fraction=max_bad_fraction,
                progress=progress,
                allow_large_fetch=allow_large_fetch,
                **kwargs,
            )
        except (IngestError, SurveyDefinitionError, ValueError) as exc:
            console.print(f"[red]ingest failed:[/red] {exc}")
            raise typer.Exit(1) from exc
        finally:
            if path is not None:
                path.close()
    console.print_json(json.dumps(result.summary()))
