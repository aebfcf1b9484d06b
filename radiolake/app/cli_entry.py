"""The `radiolake` console script: starts Spark early for `radiolake crossmatch`, then runs the CLI.

Why a separate entry: importing the CLI (typer, rich, the ingest and stack commands) takes ~0.5 s, and a
cross-match waits for the driver JVM, not for the driver's own work. So the JVM starts first, from the raw
arguments, and the CLI imports and parses while it boots (runner.prestart: the same call crossmatch_run_params
would make, used only if the parsed --master matches).

A cross-match also ends without tearing down its interpreter: freeing the driver's result tables object by
object took ~0.7 s after the last table was written. Everything is written, closed and flushed by then.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    from radiolake.crossmatch.runner import prestart

    args = sys.argv[1:]
    prestart(args)
    from radiolake.app.cli import app

    if not args or args[0] != "crossmatch":
        app()
        return
    try:
        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
