"""The `stack` fixture: the real embedded stack (PostgreSQL, S3 server, Airflow 3), up once per session.
`own_stack`: a stack of one test's own, for tests that kill or restart services."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from radiolake.app.airflow_client import AirflowClient
from radiolake.config import ANALYST_ROLE, WAREHOUSE_DB, Settings
from radiolake.stack.airflow import ADMIN_USER
from radiolake.stack.stack import Stack
from radiolake.stack.state import StateDir
from tests._session import STACK_KEY, stop_test_stack


@dataclass
class StackHandle:
    stack: Stack
    settings: Settings
    admin_dsn: str
    analyst_dsn: str
    airflow_url: str
    airflow: AirflowClient


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that stop and restart the shared stack run last, so no other test sees a restart mid-way."""
    items.sort(key=lambda item: item.get_closest_marker("restarts_stack") is not None)


@pytest.fixture(scope="session")
def stack(pytestconfig: pytest.Config) -> StackHandle:
    the_stack: Stack = pytestconfig.stash[STACK_KEY]
    the_stack.up()  # stopped in pytest_unconfigure, after every test
    return handle(the_stack)


@pytest.fixture
def own_stack() -> Iterator[StackHandle]:
    """A whole stack for this test alone (its own state directory, ports and processes), stopped after it.
    Tests that kill or restart services use it, so one that fails never leaves the shared stack, or the
    tests after it, with a dead service."""
    home = Path(tempfile.mkdtemp(prefix="radiolake-test-own-", dir="/tmp"))
    the_stack = Stack(StateDir(home))
    try:
        the_stack.up()
        yield handle(the_stack)
    finally:  # nothing of this stack outlives the test, even when a service refused to stop cleanly
        stop_test_stack(the_stack, home)


def handle(the_stack: Stack) -> StackHandle:
    return StackHandle(
        stack=the_stack,
        settings=the_stack.settings(),
        admin_dsn=the_stack.postgres.dsn(),
        analyst_dsn=the_stack.postgres.dsn(ANALYST_ROLE, WAREHOUSE_DB),
        airflow_url=the_stack.airflow.url,
        airflow=AirflowClient(the_stack.airflow.url, ADMIN_USER, the_stack.secrets["airflow_admin_password"]),
    )
