"""Session-wide test setup.

Integration tests share one embedded stack. Its state directory, ports and secrets are fixed here, at
configure time, before any test imports Airflow: Airflow reads its configuration once at import, so
`dag.test()` in this process must already see the stack's metadata database in the environment.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests._durations import DurationsReport
from tests._session import STACK_KEY, close_airflow_connections, stop_test_stack

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
#: Fixtures that start a stack of their own (tests/integration/conftest.py): their tests form the `own_stack` group.
OWN_STACKS = {"own_stack", "own_warehouse"}
_HOME: Path | None = None


def is_xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands tests to xdist workers (`-n 2`) and runs none itself."""
    return config.getoption("dist", "no") != "no" and not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    global _HOME
    if not hasattr(config, "workerinput"):  # the process that sees every test's report writes the report
        config.pluginmanager.register(DurationsReport(config), "radiolake-durations")
    if is_xdist_controller(config):
        return  # runs no test: each worker configures (and, only if one of its tests asks, starts) its own stack
    from radiolake.stack.stack import Stack
    from radiolake.stack.state import StateDir

    # Under /tmp (traversable by all): as root, PostgreSQL runs as an unprivileged user that must reach it. The
    # folder itself is private; Stack() lets only that user's group pass through it (radiolake.stack.state).
    _HOME = Path(tempfile.mkdtemp(prefix="radiolake-test-", dir="/tmp"))
    os.environ["RADIOLAKE_HOME"] = str(_HOME)
    for var in [v for v in os.environ if v.startswith("RADIOLAKE_") and v != "RADIOLAKE_HOME"]:
        if var.startswith(("RADIOLAKE_S3_", "RADIOLAKE_WAREHOUSE", "RADIOLAKE_PG_", "RADIOLAKE_AIRFLOW")):
            del os.environ[var]  # the tests talk to their own stack, never to a user's
    # Asset-scheduled DAGs (crossmatch -> warehouse) must not run in the background of other tests; tests
    # that trigger a DAG unpause it (AirflowClient.trigger does).
    os.environ["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
    stack = Stack(StateDir(_HOME))
    os.environ.update(stack.airflow.env)
    config.stash[STACK_KEY] = stack


@pytest.hookimpl(tryfirst=True)  # before xdist's worker hook, which reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n 2 --dist loadgroup` (`make test`): every test on the shared stack in one xdist group, so
    one worker starts that one stack and runs them in order while the other worker runs the rest (unit, static,
    Spark-local, and the tests that start a stack of their own, `own_stack` or `own_warehouse`, kept together
    in a group of theirs so that at most two stacks ever run at once). Without xdist the marks change nothing."""
    grouping = bool(getattr(config.option, "loadgroup", False))  # set in an xdist worker under --dist loadgroup
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = "stack" if "stack" in names else "own_stack" if OWN_STACKS & set(names) else None
        if group is None:
            continue
        item.add_marker(pytest.mark.xdist_group(group))
        if grouping:
            _suffix_group(item, group)


def _suffix_group(item: pytest.Item, group: str) -> None:
    """xdist groups tests by a `@group` suffix on their node id, which its worker hook writes to `item._nodeid`;
    from pytest 9.2 the id lives in `item._id` (a NodeId) and that write is lost, so the groups would silently
    be spread over both workers (both would start a shared stack). Write the suffix where pytest reads it."""
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own hook does it
        return
    node_id = getattr(item, "_id", None)
    if isinstance(node_id, NodeId) and not str(node_id).endswith(f"@{group}"):
        item._id = NodeId.parse(f"{node_id}@{group}")


def pytest_unconfigure(config: pytest.Config) -> None:
    stack = config.stash.get(STACK_KEY, None)
    if stack is None or _HOME is None:
        return
    close_airflow_connections()
    stop_test_stack(stack, _HOME)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: real catalogues for tests (never a run-time dependency)."""
    assert SHARED_DATA.is_dir(), f"test data folder missing: {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO
