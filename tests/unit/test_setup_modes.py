"""scripts/setup.sh --for demo installs only what the demo needs; --for test everything; both idempotent.

Run on a copy of the script with a stub Python (it records every call and makes venvs as empty folders), so
what each mode would install is seen without installing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STUB = """#!/usr/bin/env bash
echo "$0 $*" >> "$SETUP_CALLS"
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "$SETUP_STUB" "$3/bin/python"; fi
exit 0
"""


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    stub_bin = tmp_path / "stub-bin"
    stub_bin.mkdir()
    for name in ("python-stub", "apt-get"):
        (stub_bin / name).write_text(STUB)
        (stub_bin / name).chmod(0o755)
    return tmp_path


def _run(tree: Path, *args: str) -> subprocess.CompletedProcess:
    calls = tree / "calls.log"
    calls.write_text("")
    env = {**os.environ, "PYTHON": str(tree / "stub-bin" / "python-stub"), "SETUP_CALLS": str(calls),
           "SETUP_STUB": str(tree / "stub-bin" / "python-stub"),
           "PATH": f"{tree / 'stub-bin'}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", str(tree / "scripts" / "setup.sh"), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def _setup(tree: Path, *args: str) -> list[str]:
    done = _run(tree, *args)
    assert done.returncode == 0, done.stderr + done.stdout
    return (tree / "calls.log").read_text().splitlines()


def _installs(calls: list[str]) -> dict[str, str]:
    """venv dir -> its pip install arguments (pip's own upgrade left out)."""
    out = {}
    for line in calls:
        exe, _, args = line.partition(" ")
        if args.startswith("-m pip install") and "--upgrade pip" not in args:
            out[exe.split("/bin/python")[0].rsplit("/", 1)[-1]] = args
    return out


def test_demo_then_test_then_demo(tree: Path):
    calls = _setup(tree, "--for", "demo")
    installs = _installs(calls)
    assert set(installs) == {".venv", ".venv-dbt"}  # no .venv-tools
    assert installs[".venv"].endswith("-e .") and "[dev]" not in installs[".venv"]
    assert any("radiolake.warehouse.dbt_airflow" in c for c in calls)  # the manifest the DAGs render from
    assert not any("radiolake.spark.cds" in c for c in calls)  # never on the demo's path
    assert not any("chromium" in c for c in calls)
    assert (tree / ".venv" / ".radiolake-stamp").read_text().endswith(" demo")

    assert _installs(_setup(tree, "--for", "demo")) == {}  # idempotent

    calls = _setup(tree, "--for", "test")
    installs = _installs(calls)
    assert set(installs) == {".venv", ".venv-tools"}  # the dbt venv was already right
    assert installs[".venv"].endswith("-e .[dev]") and "checkov" in installs[".venv-tools"]
    assert any(c.endswith("-m radiolake.spark.cds") for c in calls)

    assert _installs(_setup(tree, "--for", "demo")) == {}  # a test install serves the demo as it is
    assert _installs(_setup(tree)) == {}  # no option: the full set-up, already there


def test_spark_cds_in_background_returns_and_trains(tree: Path):
    _setup(tree, "--for", "demo")
    _setup(tree, "--spark-cds-in-background")
    calls = tree / "calls.log"
    for _ in range(100):  # the detached training process records its call when it starts
        if "-m radiolake.spark.cds" in calls.read_text():
            break
        time.sleep(0.1)
    assert "-m radiolake.spark.cds" in calls.read_text()


def test_unknown_mode_is_refused(tree: Path):
    done = _run(tree, "--for", "everything")
    assert done.returncode == 2 and "usage" in done.stderr
    assert (tree / "calls.log").read_text() == ""  # refused before installing anything
