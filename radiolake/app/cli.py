"""The `radiolake` command line: run the embedded stack and the pipeline's steps."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from radiolake.app.endpoints import print_endpoints
from radiolake.stack import StackError

app = typer.Typer(help="Radio Star Lakehouse: find radio stars by cross-matching radio surveys with Gaia.",
                  no_args_is_help=True)
stack_app = typer.Typer(help="The embedded stack: PostgreSQL, S3 object store, Airflow 3, optionally a Spark "
                        "standalone cluster.", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
console = Console()


def _stack():
    from radiolake.stack.stack import Stack

    return Stack()


def _quiet_logging() -> None:
    from radiolake.masking import MaskingFilter

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingFilter())
    for noisy in ("httpx", "urllib3", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(exc: Exception) -> None:
    from radiolake.masking import mask_secrets

    console.print(f"[bold red]error[/] {mask_secrets(str(exc))}", highlight=False)
    raise typer.Exit(1)


_SHOW_SECRETS = typer.Option(False, "--show-secrets", help="Print DSNs with their passwords (default: ***).")


@stack_app.command("up")
def stack_up(airflow: bool = typer.Option(True, help="Also start Airflow (off: only Postgres + S3)."),
             spark_workers: int | None = typer.Option(
                 None, "--spark-workers", min=0, max=16,
                 help="Run a Spark standalone master with N workers (1 core each) that cross-matches submit to; "
                      "0 stops it. Default: RADIOLAKE_SPARK_WORKERS, else keep what runs (none at first)."),
             show_secrets: bool = _SHOW_SECRETS) -> None:
    """Start every service (idempotent: running ones are left alone)."""
    _quiet_logging()
    try:
        stack = _stack()
        t0 = time.monotonic()
        with console.status("starting PostgreSQL, the object store, Spark (if asked) and Airflow ..."):
            stack.up(with_airflow=airflow, spark_workers=spark_workers)
        console.print(f"[green]stack up[/] in {time.monotonic() - t0:.0f} s")
        print_endpoints(console, stack, show_secrets)
    except StackError as exc:
        _fail(exc)


@stack_app.command("down")
def stack_down() -> None:
    """Stop every service and the cross-match engine of this state directory; data stays there."""
    from radiolake.crossmatch import engine_client

    try:
        strays = _stack().down()
        engine = engine_client.stop()
    except (StackError, engine_client.EngineError) as exc:
        _fail(exc)
    console.print("[green]stack down[/]" + (f" ({strays} stray processes killed)" if strays else "")
                  + (f", engine pid {engine['pid']} stopped" if engine else ""))


@stack_app.command("status")
def stack_status(show_secrets: bool = _SHOW_SECRETS) -> None:
    """Health of each service, and every URL and DSN."""
    try:
        stack = _stack()
    except StackError as exc:
        _fail(exc)
    table = Table("service", "health", "detail")
    statuses = stack.status()
    for s in statuses:
        table.add_row(s.name, "[green]healthy[/]" if s.healthy else "[red]down[/]", s.detail)
    console.print(table)
    print_endpoints(console, stack, show_secrets)
    if not all(s.healthy for s in statuses):
        raise typer.Exit(3)


@stack_app.command("logs")
def stack_logs(service: str = typer.Argument(..., help="postgres, objectstore, airflow-api-server, "
                                             "airflow-scheduler, airflow-dag-processor, airflow-triggerer, "
                                             "airflow-migrate, spark-master, spark-worker-0, ..."),
               lines: int = typer.Option(50, "-n", "--lines"), show_secrets: bool = _SHOW_SECRETS) -> None:
    """Print the end of a service's log file (passwords masked unless --show-secrets)."""
    from radiolake.masking import mask_secrets
    from radiolake.stack.errors import tail
    from radiolake.stack.state import StateDir

    state = StateDir.from_env()
    path = state.log_file(service)
    if not path.exists():
        known = sorted(p.stem for p in state.logs.glob("*.log")) if state.logs.exists() else []
        _fail(ValueError(f"no log for {service!r} at {path}; known: {', '.join(known) or 'none yet'}"))
    console.print(f"[dim]{path}[/]")
    text = tail(path, lines)
    sys.stdout.write((text if show_secrets else mask_secrets(text)) + "\n")


@app.command("demo")
def demo(timeout: float = typer.Option(1800, help="Seconds to wait for the pipeline run."),
         real: bool = typer.Option(False, "--real", help="RACS-low tile x Gaia DR3 G<10 (PyPI samples) instead "
                                   "of the synthetic sky."),
         smoke: bool = typer.Option(False, "--smoke", help="Only the smoke DAG (S3, SQL, Spark round trips)."),
         show_secrets: bool = _SHOW_SECRETS) -> None:
    """Bring the stack up, run the pipeline through Airflow's REST API, show candidates and where everything is."""
    from radiolake.app.demo import run_demo

    _quiet_logging()
    try:
        run_demo(console, timeout=timeout, real=real, smoke_only=smoke, show_secrets=show_secrets)
    except (StackError, RuntimeError, TimeoutError) as exc:
        _fail(exc)


@app.command("science-demo")
def science_demo(
    srsc: Annotated[Path | None, typer.Option(help="SRSC detections CSV (SRSC_distances.csv).")] = None,
    background: Annotated[Path | None, typer.Option(help="Background-only radio FITS (bright NVSS/SUMSS).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for the local lake and the CMD picture.")] = Path("science-demo"),
) -> None:
    """Real science, offline, no stack: Hipparcos 2 (PyPI) x RACS tile (PyPI), SRSC and a background-only
    catalogue; recall of known radio stars at the top grades, chance matches vs offset skies, the CMD."""
    from radiolake.app.science_demo import run_science_demo

    _quiet_logging()
    for p in (srsc, background):
        if p is not None and not p.is_file():
            _fail(ValueError(f"no such file: {p}"))
    run_science_demo(srsc, background, out, console)


def _register_step_commands() -> None:
    """Pipeline steps live in their own packages; the CLI only wires them in."""
    from radiolake.crossmatch.cli import crossmatch
    from radiolake.ingest.cli import ingest
    from radiolake.warehouse.cli import export, load, marts

    app.command("ingest")(ingest)
    app.command("crossmatch")(crossmatch)
    app.command("load")(load)
    app.command("marts")(marts)
    app.command("export")(export)
    from radiolake.crossmatch.plan_cli import plan

    app.command("plan")(plan)
    from radiolake.ingest.lake_cli import lake_app

    app.add_typer(lake_app, name="lake")
    from radiolake.crossmatch.engine_cli import engine_app

    app.add_typer(engine_app, name="engine")


_register_step_commands()


def main() -> None:  # pragma: no cover - console entry point
    app()
