"""The `stack` fixture: the real embedded stack (PostgreSQL, S3 server, Airflow 3), up once per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from radiolake.airflow_client import AirflowClient
from radiolake.config import ANALYST_ROLE, WAREHOUSE_DB, Settings
from radiolake.stack.airflow import ADMIN_USER
from radiolake.stack.stack import Stack
from tests._session import STACK_KEY


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
    return StackHandle(
        stack=the_stack,
        settings=the_stack.settings(),
        admin_dsn=the_stack.postgres.dsn(),
        analyst_dsn=the_stack.postgres.dsn(ANALYST_ROLE, WAREHOUSE_DB),
        airflow_url=the_stack.airflow.url,
        airflow=AirflowClient(the_stack.airflow.url, ADMIN_USER, the_stack.secrets["airflow_admin_password"]),
    )
