"""`radiolake crossmatch`: a typer command function; the lead registers it on the main app.

Its run options (--radio, --radius-arcsec, ...) are generated from the run parameters' declaration
(radiolake.run_params); only the command's own options are declared here."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from radiolake.run_param_surfaces import cli_options
from radiolake.run_params import CrossmatchParams


@cli_options("cli_crossmatch")
def crossmatch(
    run_params: dict[str, Any],
    fixed_radius: Annotated[bool, typer.Option(
        help="Match within --radius-arcsec only, without the n-sigma limit.")] = False,
    master: Annotated[
        str | None, typer.Option(help="Spark master (default RADIOLAKE_SPARK_MASTER or local[*]).")
    ] = None,
) -> None:
    """Cross-match a radio catalogue against a stellar catalogue (local worker processes or Spark: --executor); writes
    pairs, best, offset stats."""
    from radiolake.crossmatch.runner import crossmatch_run_params

    console = Console()
    radio, stars = run_params["radio"], run_params["stars"]
    try:
        checked = CrossmatchParams.from_values(
            "cli_crossmatch", {**run_params, "n_sigma": None if fixed_radius else run_params["n_sigma"]})
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=True
        ) as progress:
            progress.add_task(f"cross-matching {radio} x {stars}", total=None)
            summary = crossmatch_run_params(checked, master=master)
    except (ValueError, FileNotFoundError) as exc:
        console.print(f"[bold red]error[/] {exc}", soft_wrap=True, highlight=False)  # one line, never wrapped
        raise typer.Exit(1) from exc
    console.print(
        f"[green]run {summary['run_id']}[/]: {summary['n_pairs']} pairs, {summary['n_best']} radio "
        f"sources matched, ~{summary['expected_false_matches']:.1f} expected false; -> {summary['prefix']}"
    )
    console.print_json(json.dumps({k: v for k, v in summary.items() if k != "stats"}))
