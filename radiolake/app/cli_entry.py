"""The `radiolake` console script: starts Spark early for `radiolake crossmatch`, then runs the CLI.

Why a separate entry: importing the CLI (typer, rich, the ingest and stack commands) takes ~0.5 s, and a
cross-match waits for the driver JVM, not for the driver's own work. So the JVM starts first, from the raw
arguments, and the CLI imports and parses while it boots (runner.prestart: the same call crossmatch_run_params
would make, used only if the parsed --master matches).

The cross-match command is run by a CLI of that command alone (`crossmatch_app`), without importing the other
commands' packages. A cross-match also ends without tearing down its interpreter: freeing the driver's result
tables object by object took ~0.7 s after the last table was written. Everything is written, closed and flushed by then.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    from radiolake.crossmatch.runner import prestart

    args = sys.argv[1:]
    prestart(args)
    if not args or args[0] != "crossmatch":
        from radiolake.app.cli import app

        app()
        return
    app = crossmatch_app()
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def crossmatch_app():
    """A CLI of the `crossmatch` command alone: the whole CLI imports every command's package (ingest, the
    stack, the warehouse), which a cross-match would wait for."""
    import typer

    from radiolake.crossmatch.cli import crossmatch

    app = typer.Typer(add_completion=False)

    @app.callback()
    def radiolake() -> None:
        """Radio Star Lakehouse."""

    app.command("crossmatch")(crossmatch)
    return app


if __name__ == "__main__":
    main()
