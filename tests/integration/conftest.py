"""The `stack` fixture: the real embedded stack (PostgreSQL, S3 server, Airflow 3), up once per session.
`own_stack`: a stack of one test's own, for tests that kill or restart services.
`own_warehouse`: PostgreSQL and the S3 server without Airflow, of one module's own, for modules that only load
runs and build dbt (they then run beside the shared stack's tests, not after them)."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="session")
def smoke_run(stack: StackHandle) -> str:
    """The id of one radiolake_smoke run through the shared stack's scheduler, finished successfully, for the
    tests that read what such a run leaves (task states and logs, a task's XCom). One run for all of them:
    each run starts three task processes and a Spark application."""
    stack.airflow.wait_for_dag("radiolake_smoke", timeout=180)
    run_id = stack.airflow.trigger("radiolake_smoke")
    assert stack.airflow.wait_for_run("radiolake_smoke", run_id, timeout=600) == "success"
    return run_id


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


@pytest.fixture(scope="module")
def own_warehouse() -> Iterator[StackHandle]:
    """PostgreSQL and the S3 server of this module's own (no Airflow, no Spark cluster), stopped after it.

    For modules that need the warehouse alone (loads, dbt builds): under `make test` they run in the
    `own_stack` group (tests/conftest.py), on the worker beside the shared stack's, whose group is the suite's
    longest. RADIOLAKE_HOME names this stack meanwhile, so code that reads its settings from the environment
    (e.g. a load looking up its radio catalogue's coverage in the lake) finds this stack, as a user's would."""
    home = Path(tempfile.mkdtemp(prefix="radiolake-test-wh-", dir="/tmp"))
    the_stack = Stack(StateDir(home))
    before = os.environ.get("RADIOLAKE_HOME")
    try:
        the_stack.up(with_airflow=False, spark_workers=0)
        os.environ["RADIOLAKE_HOME"] = str(home)
        yield handle(the_stack)
    finally:
        if before is None:
            os.environ.pop("RADIOLAKE_HOME", None)
        else:
            os.environ["RADIOLAKE_HOME"] = before
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
