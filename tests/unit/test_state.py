"""The state directory: versioning, persisted ports, generated secrets."""

import json
import os
import stat

import pytest

from radiolake.config import STATE_VERSION
from radiolake.stack.errors import StackError
from radiolake.stack.state import PORT_ENV, StateDir


def test_secrets_are_generated_once_private_and_distinct(tmp_path):
    state = StateDir(tmp_path / "home")
    state.prepare()
    first = state.secrets()
    assert stat.S_IMODE(os.stat(state.secrets_file).st_mode) == 0o600
    assert len(set(first.values())) == len(first)  # no two secrets alike
    assert all(len(v) >= 20 for v in first.values())
    assert state.secrets() == first  # stable across calls (and restarts)


def test_ports_persist_and_env_pins_win(tmp_path):
    state = StateDir(tmp_path / "home")
    state.prepare()
    ports = state.ports({})
    assert set(PORT_ENV) <= set(ports)
    assert len(set(ports.values())) == len(ports)
    assert state.ports({}) == ports
    pinned = state.ports({"RADIOLAKE_PG_PORT": "15432"})
    assert pinned["postgres"] == 15432
    assert json.loads(state.ports_file.read_text())["postgres"] == 15432


def test_state_from_another_version_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.json").write_text(json.dumps({"version": STATE_VERSION + 1}))
    with pytest.raises(StackError, match="state version"):
        StateDir(home).prepare()


def test_foreign_directory_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    with pytest.raises(StackError, match="not a radiolake state"):
        StateDir(home).prepare()
    assert (home / "thesis.tex").read_text() == "precious"
