"""Objects shared by the conftest files, in a plain module so there is exactly one instance of each."""

import pytest

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
