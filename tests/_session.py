"""Objects shared by the conftest files, in a plain module so there is exactly one instance of each."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

if TYPE_CHECKING:
    from radiolake.stack.stack import Stack

#: config.stash key of the session's Stack (created at configure time, started by the `stack` fixture).
STACK_KEY: pytest.StashKey = pytest.StashKey()


def close_airflow_connections() -> None:
    """In-process `dag.test()` keeps pooled metadata-DB connections; close them whenever Postgres stops, or
    the next in-process use finds a dead connection."""
    import sys

    if "airflow.settings" in sys.modules:
        from airflow import settings

        if settings.Session is not None:
            settings.Session.remove()  # the thread's session gives its connection back ...
        if settings.engine is not None:
            settings.engine.dispose()  # ... and the pool drops them all; it reconnects on next use


def keep_test_state() -> bool:
    """RADIOLAKE_KEEP_TEST_STATE=1: keep a test stack's state folder (logs, data) after the run, to read it."""
    return os.environ.get("RADIOLAKE_KEEP_TEST_STATE") == "1"


def stop_test_stack(stack: Stack, home: Path) -> None:
    """Stop a stack the tests started, and delete its state folder (unless `keep_test_state()`).

    Why not just `stack.down()`: SeaweedFS answers SIGTERM with a graceful stop that keeps retrying its own
    filer, already gone, for ~20-25 s before it exits (`down` SIGKILLs it after 20 s). A stack whose data is
    deleted next has nothing to keep, so its S3 server is SIGKILLed first; Airflow and PostgreSQL still stop
    cleanly (so PostgreSQL leaves no shared memory behind). A kept state folder gets the graceful stop."""
    from radiolake.stack.process import kill_strays

    try:
        if not keep_test_state() and (pid := stack.objectstore.pid()) is not None:
            with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
                group = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
                os.killpg(os.getpgid(pid), signal.SIGKILL)
                psutil.wait_procs(group, timeout=10)
        stack.down()
    finally:  # even when a service refused to stop cleanly: no process of the test stack outlives the run
        kill_strays(home)
        if not keep_test_state():
            shutil.rmtree(home, ignore_errors=True)
