"""The test suite's own limits (issue 23): no test may run over 15 minutes, also when `make test` runs it on two
xdist workers, and every run leaves its durations report.

The limit is pytest-timeout's `timeout = 900` in pyproject. Under xdist it must stop the test in the worker
(the signal method, tests run in the worker's main thread) and fail that test alone: the thread method would
kill the whole worker, and xdist would start a new one, which starts the shared stack again.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SLOW_AND_FAST = '''
import time

def test_sleeps_past_the_limit():
    time.sleep(120)

def test_after_it_on_the_same_workers():
    assert 1 + 1 == 2
'''


def _pytest_config() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]


def test_the_suite_stops_any_test_at_15_minutes():
    config = _pytest_config()
    assert int(config["timeout"]) == 900
    assert config["timeout_method"] == "signal"


def test_make_test_runs_on_two_workers_grouping_the_stack_tests():
    make = (REPO / "Makefile").read_text()
    parallel = re.search(r"^PARALLEL := (.+)$", make, re.M)
    assert parallel and parallel.group(1).split() == ["-n", "2", "--dist", "loadgroup"]
    test_recipe = re.search(r"^test: .*\n\t(.+)$", make, re.M)
    assert test_recipe and "$(PARALLEL)" in test_recipe.group(1)
    assert "pytest-xdist" in " ".join(tomllib.loads((REPO / "pyproject.toml").read_text())
                                      ["project"]["optional-dependencies"]["dev"])


def test_the_timeout_fails_the_slow_test_alone_under_xdist_and_the_worker_lives_on(tmp_path: Path):
    """The project's pytest configuration with the limit lowered to 3 s, on two workers like `make test`."""
    (tmp_path / "test_limit.py").write_text(textwrap.dedent(SLOW_AND_FAST))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-o", "timeout=3", "-n", "2", "--dist", "loadgroup", "-q", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Failed: Timeout" in out, out  # pytest-timeout's signal method: the test fails, the worker stays
    assert "crashed" not in out, out
    assert re.search(r"\b1 failed, 1 passed\b", out), out
    assert (tmp_path / ".test-reports" / "junit.xml").is_file()  # pyproject's addopts, relative to the run


GROUPING_CONFTEST = '''
import pytest

from tests.conftest import pytest_collection_modifyitems  # noqa: F401  (the hook under test)


@pytest.fixture(scope="session")
def stack():
    return "shared"


@pytest.fixture
def logged_in(stack):
    return stack
'''

GROUPED_TESTS = '''
import os
from pathlib import Path

import pytest


def ran(name):
    (Path(__file__).parent / "ran" / name).write_text(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.parametrize("n", range(4))
def test_on_stack(stack, n):
    ran(f"stack-{n}")


def test_through_another_fixture(logged_in):
    ran("stack-e2e")


@pytest.mark.parametrize("n", range(6))
def test_unit(n):
    ran(f"unit-{n}")
'''


def test_stack_tests_run_on_one_worker_under_loadgroup(tmp_path: Path):
    """The real grouping hook of tests/conftest.py, on two workers: every test that uses `stack`, directly or
    through another fixture, runs on the same worker (one shared stack), the rest on either."""
    (tmp_path / "ran").mkdir()
    (tmp_path / "conftest.py").write_text(GROUPING_CONFTEST)
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-q",
         str(tmp_path / "test_grouped.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran = {p.name: p.read_text() for p in (tmp_path / "ran").iterdir()}
    assert len(ran) == 11
    stack_workers = {w for name, w in ran.items() if name.startswith("stack-")}
    assert len(stack_workers) == 1, ran
