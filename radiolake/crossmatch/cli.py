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
    # plain JSON: rich's highlighting of the ~3,000 lines took ~0.3 s of every run
    print(json.dumps({k: v for k, v in summary.items() if k != "stats"}, indent=2), flush=True)


def crossmatch_app() -> typer.Typer:
    """A CLI of the `crossmatch` command alone: the whole CLI imports every command's package (ingest, the
    stack, the warehouse), which a cross-match would wait for."""
    app = typer.Typer(add_completion=False)

    @app.callback()
    def radiolake() -> None:
        """Radio Star Lakehouse."""

    app.command("crossmatch")(crossmatch)
    return app


def run_command(args: list[str]) -> int:
    """`radiolake crossmatch ...` (raw arguments, `crossmatch` first) in this process; its exit code. The one
    path of the console script and of the engine's run child (engine_server.py): the executor's start is
    begun from the raw arguments (runner.prestart) before the CLI parses them."""
    from radiolake.crossmatch.runner import prestart

    prestart(args)
    try:
        crossmatch_app()(args=args, prog_name="radiolake")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0
