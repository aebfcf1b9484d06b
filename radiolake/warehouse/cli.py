"""`radiolake load RUN`, `radiolake marts` and `radiolake export`: the CLI face of the warehouse (registered in
radiolake/app/cli.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from radiolake.config import ConfigError, get_settings
from radiolake.run_params import RunParamError, dbt_check_runs_vars
from radiolake.warehouse import dbt_runner

# load/validate (pandas, pyarrow datasets) are imported by the command that needs them: every `radiolake`
# command imports this module, and the cross-match CLI's wall time includes Python's start-up.


def _progress(console: Console) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)


def load(
    run: Annotated[str, typer.Argument(help="Run id (read from s3://xmatch/<run>), s3:// URI or local folder.")],
) -> None:
    """Validate a cross-match results folder and load it into the warehouse (replacing that run if loaded)."""
    from radiolake.warehouse.load import load_run
    from radiolake.warehouse.steps import results_uri
    from radiolake.warehouse.validate import ResultsValidationError

    console = Console()
    settings = get_settings()
    uri = run if ("/" in run or run.startswith(".")) else results_uri(run, None, settings)
    try:
        with _progress(console) as progress:
            progress.add_task(f"loading {uri}", total=None)
            report = load_run(uri, settings=settings)
    except (ResultsValidationError, ConfigError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    table = Table(title=f"run {report.run_id} loaded in {report.seconds:.1f} s")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.rows.items():
        table.add_row(f"load.{name}", f"{n:,}")
    console.print(table)


def marts(
    docs: Annotated[bool, typer.Option(help="Also generate the dbt docs site.")] = False,
    select: Annotated[str | None, typer.Option(help="dbt node selection (default: everything).")] = None,
    full_refresh: Annotated[bool, typer.Option(
        help="Recompute every mart from load.* instead of only the runs changed since the last build.")] = False,
    check_run: Annotated[list[str] | None, typer.Option(
        help="Run the data tests on this run's rows only (repeatable; default: every run).")] = None,
) -> None:
    """Build and test the dbt marts (staging -> intermediate -> marts) on everything loaded."""
    console = Console()
    try:
        with _progress(console) as progress:
            progress.add_task("dbt build", total=None)
            result = dbt_runner.build(select=select, full_refresh=full_refresh,
                                      vars=dbt_check_runs_vars(check_run))
            if docs:
                progress.add_task("dbt docs generate", total=None)
                target = dbt_runner.docs_generate()
    except (dbt_runner.DbtError, ConfigError, RunParamError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    statuses = result.statuses()
    n_ok = sum(s in ("success", "pass") for s in statuses.values())
    console.print(f"[green]dbt build: {n_ok}/{len(statuses)} models and tests passed[/]")
    if docs:
        console.print(f"docs: {target / 'index.html'}")


def export(
    table: Annotated[Literal["candidates", "radio_stars"], typer.Argument(
        help="What to export: candidates (marts.radio_star_candidates) or radio_stars (marts.radio_stars).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write; its suffix picks the format unless "
                                      "--format is given (.vot/.xml, .fits, .csv, .parquet).")],
    fmt: Annotated[Literal["votable", "fits", "csv", "parquet"] | None, typer.Option(
        "--format", help="Output format (default: from the --out suffix).")] = None,
    run: Annotated[str | None, typer.Option(help="Only this cross-match run (candidates).")] = None,
    latest: Annotated[bool, typer.Option(
        help="Only the newest run of each radio x star catalogue pair (candidates).")] = False,
    grade: Annotated[list[str] | None, typer.Option(
        help="Only these grades (repeatable: --grade A --grade B).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows (best first).")] = None,
) -> None:
    """Export candidates or radio stars as VOTable, FITS, CSV or Parquet, with Gaia archive and SIMBAD links."""
    from radiolake.masking import mask_secrets
    from radiolake.warehouse.export import ExportError, format_for
    from radiolake.warehouse.export import export as export_mart

    console = Console()
    settings = get_settings()
    try:
        chosen = fmt or format_for(out)
        for g in grade or []:
            if g not in ("A", "B", "C"):
                raise ExportError(f"--grade must be A, B or C, not {g!r}")
        path, n = export_mart(settings.analyst_dsn or settings.warehouse_dsn, table, chosen, out, run_id=run,
                              latest=latest, grades=grade or (), limit=limit)
    except (ExportError, ConfigError) as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    except Exception as exc:  # e.g. psycopg's connection errors, which may quote the DSN
        console.print(f"[red]export failed: {mask_secrets(str(exc))}[/]")
        raise typer.Exit(1) from exc
    console.print(f"[green]{n:,} rows[/] of {table} written to {path} ({chosen})", highlight=False)
