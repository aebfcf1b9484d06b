"""`radiolake engine start|status|stop`: the long-running cross-match engine (engine_server.py) that
`radiolake crossmatch` attaches to, so a command pays its matching and not the process's start."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import typer
from rich.console import Console

from radiolake.crossmatch import engine_client

engine_app = typer.Typer(help="The cross-match engine: a local process that keeps the imports warm; "
                              "`radiolake crossmatch` attaches to it when it runs.", no_args_is_help=True)
console = Console()


def _describe(status: dict) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(status["started"]))
    line = (f"engine pid {status['pid']} on {status['socket']}, since {started} (imports {status['preload_s']} s), "
            f"{status['runs_served']} runs served, {status['runs_running']} running")
    if status.get("code_changed"):
        line += "; [yellow]radiolake changed on disk since it started: restart it[/]"
    return line


def _or_exit(action: Callable[[], dict | None]) -> dict | None:
    """The engine client's answer, or its error printed and exit status 1 (a user reads why, not a trace)."""
    try:
        return action()
    except engine_client.EngineError as exc:
        console.print(f"[bold red]error[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc


@engine_app.command("start")
def start() -> None:
    """Start the engine in the background (nothing if one runs for this RADIOLAKE_HOME)."""
    status = _or_exit(engine_client.start)
    word = "already running" if status.get("already_running") else "started"
    console.print(f"[green]{word}[/]: {_describe(status)}", highlight=False)


@engine_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print the engine's status as JSON.")) -> None:
    """Whether an engine runs (exit 1 if not)."""
    found = engine_client.request("status")
    if as_json:
        print(json.dumps(found))
    elif found is None:
        console.print(f"no engine running (socket {engine_client.socket_path()})", highlight=False)
    else:
        console.print(_describe(found), highlight=False)
    if found is None:
        raise typer.Exit(1)


@engine_app.command("stop")
def stop() -> None:
    """Stop the engine (runs in progress are ended)."""
    found = _or_exit(engine_client.stop)
    console.print("no engine running" if found is None else f"[green]stopped[/] engine pid {found['pid']} after "
                  f"{found['runs_served']} runs", highlight=False)
