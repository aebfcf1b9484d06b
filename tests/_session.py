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

        if settings.engine is not None:  # the pool reconnects on next use; the ORM setup stays
            settings.engine.dispose()
