"""The `radiolake` console script: `radiolake crossmatch` attaches to a running engine, else starts its
executor early and runs the command in this process; every other command runs the whole CLI.

Why a separate entry: importing the CLI (typer, rich, the ingest and stack commands) takes ~0.5 s, and a
cross-match in a new process waits for its imports and its executor's start, not for the driver's own work.
- With an engine running (`radiolake engine start`, crossmatch/engine_server.py) the command is handed to it
  before anything heavy is imported (engine_client imports the standard library only): the engine has paid
  the imports and forks the run warm, with this process's streams, folder and environment.
- Without one, the executor (local workers, or the Spark JVM) starts from the raw arguments first and the CLI
  of the `crossmatch` command alone (crossmatch.cli.run_command) imports and parses while it boots.

A cross-match also ends without tearing down its interpreter: freeing the driver's result tables object by
object took ~0.7 s after the last table was written. Everything is written, closed and flushed by then.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] != "crossmatch":
        from radiolake.app.cli import app

        app()
        return
    from radiolake.crossmatch.engine_client import run_attached

    code = run_attached(args)
    if code is None:  # no engine: this process runs it
        from radiolake.crossmatch.cli import run_command

        code = run_command(args)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
