"""`radiolake ingest SURVEY`: the CLI face of the ingest pipeline (registered in radiolake/app/cli.py).

Its run options (--region, --rows, ...) are generated from the run parameters' declaration
(radiolake.run_params); only the command's own options are declared here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pyarrow.fs as pafs
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from radiolake.import_paths import ImportPathError, open_import_file
from radiolake.run_param_surfaces import cli_options
from radiolake.run_params import IngestParams, RunParamError
from radiolake.surveys import SurveyDefinitionError, survey_names


@cli_options("cli_ingest")
def ingest(
    run_params: dict[str, Any],
    survey: Annotated[str, typer.Argument(help="Survey definition name (see `--list`).")] = "",
    name: Annotated[str | None, typer.Option(help="Catalogue name (default: the survey name).")] = None,
    local: Annotated[
        Path | None, typer.Option(help="Write to this local folder instead of the lake.")
    ] = None,
    list_surveys: Annotated[bool, typer.Option("--list", help="List survey definitions and exit.")] = False,
) -> None:
    """Fetch a survey, validate it (bad rows → quarantine) and write it as a HEALPix-partitioned catalogue."""
    console = Console()
    if list_surveys or not survey:
        for s in survey_names():
            console.print(s)
        return
    try:
        params = IngestParams.from_values("cli_ingest", run_params)
    except RunParamError as exc:
        console.print(f"[red]ingest failed:[/red] {exc}")
        raise typer.Exit(1) from exc
    path = None
    if params.path is not None:
        try:  # opened and checked before anything is read or stored; read through that descriptor
            path = open_import_file(Path(params.path).absolute())
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
        from radiolake.ingest.sources import FetchError
        try:
            if params.for_radio:  # only where the radio catalogue's stars can be (ingest.for_radio)
                result = _for_radio(survey, params, name, console, progress, kwargs)
            else:
                result = ingest_survey(
                    survey,
                    region=params.region,
                    rows=params.rows,
                    seed=params.seed,
                    path=path,
                    name=name,
                    max_bad_fraction=params.max_bad_fraction,
                    progress=progress,
                    allow_large_fetch=params.allow_large_fetch,
                    **kwargs,
                )
        except (IngestError, FetchError, SurveyDefinitionError, ValueError) as exc:
            console.print(f"[red]ingest failed:[/red] {exc}")
            raise typer.Exit(1) from exc
        finally:
            if path is not None:
                path.close()
    console.print_json(json.dumps(result.summary()))


def _for_radio(survey: str, params: IngestParams, name: str | None, console: Console,
               progress: Any, lake: dict[str, Any]) -> Any:
    """`--for-radio`: the footprint fetch (ingest.for_radio), its plan printed before anything is fetched."""
    from radiolake.ingest.for_radio import ingest_for_radio

    if params.path is not None or params.region != "all":
        raise ValueError("--for-radio sets the sky itself: give no --region or --path with it")
    _, result = ingest_for_radio(survey, params.for_radio or "", name=name, mode=params.footprint_mode or "auto",
                                 radius_arcsec=params.fetch_radius_arcsec, allow_large_fetch=params.allow_large_fetch,
                                 say=console.print, progress=progress, **lake)
    return result
