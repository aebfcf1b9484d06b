"""The cross-match engine (engine_server.py) as a user meets it: a real engine process started and stopped
by `radiolake engine`, and `radiolake crossmatch` console-script processes that attach to it or not."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from radiolake.crossmatch import engine_client
from radiolake.stack.errors import StackError
from radiolake.stack.state import StateDir
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky

CLI = str(Path(sys.executable).parent / "radiolake")


@pytest.fixture
def home():
    """A short private state directory (a Unix socket path has ~107 bytes), its engine stopped at the end."""
    path = Path(tempfile.mkdtemp(prefix="rl-eng-"))
    yield path
    with_engine = {**os.environ, "RADIOLAKE_HOME": str(path)}
    try:
        engine_client.stop(with_engine)
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def sky(tmp_path) -> tuple[Path, Path]:
    radio, stars = make_sky(21, "random", 80, 160, 20.0, 0.0)
    radio.to_parquet(tmp_path / "radio.parquet")
    stars.to_parquet(tmp_path / "stars.parquet")
    return tmp_path / "radio.parquet", tmp_path / "stars.parquet"


def radiolake(home: Path, *args: str, engine: str = "", **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "RADIOLAKE_HOME": str(home), "RADIOLAKE_ENGINE": engine}
    return subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=300, **kw)


def crossmatch_args(sky: tuple[Path, Path], out: Path) -> list[str]:
    return ["crossmatch", "--radio", str(sky[0]), "--stars", str(sky[1]), "--radius-arcsec", "5", "--offsets", "2",
            "--out", str(out), "--run-id", "engine-test", "--master", "local[2]"]


def status(home: Path) -> dict | None:
    return engine_client.request("status", {**os.environ, "RADIOLAKE_HOME": str(home)})


def running(pid: int) -> bool:
    """Whether `pid` runs (an exited engine whose parent has not reaped it yet is a zombie: not running)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def pairs(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "pairs")
    return frame.sort_values(["radio_id", "star_id", "sky"] if "sky" in frame else ["radio_id", "star_id"]
                             ).reset_index(drop=True)


def test_an_attached_run_equals_a_run_in_its_own_process(home, sky, tmp_path):
    started = radiolake(home, "engine", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    sock = engine_client.socket_path({"RADIOLAKE_HOME": str(home)})
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600 and stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    first = status(home)
    assert first["runs_served"] == 0 and first["pid"] != os.getpid()

    attached = radiolake(home, *crossmatch_args(sky, tmp_path / "attached"))
    if "older code" in attached.stderr:  # someone edited the shared checkout since the start: once more
        assert radiolake(home, "engine", "stop").returncode == 0 and radiolake(home, "engine", "start").returncode == 0
        first = status(home)
        attached = radiolake(home, *crossmatch_args(sky, tmp_path / "attached"))
    assert attached.returncode == 0, attached.stderr
    assert status(home)["runs_served"] == 1  # the engine ran it
    own = radiolake(home, *crossmatch_args(sky, tmp_path / "own"), engine="off")
    assert own.returncode == 0, own.stderr
    assert status(home)["runs_served"] == 1  # RADIOLAKE_ENGINE=off: not the engine

    assert len(pairs(tmp_path / "own")) > 0
    pd.testing.assert_frame_equal(pairs(tmp_path / "attached"), pairs(tmp_path / "own"))
    runs = [json.loads((tmp_path / name / "run.json").read_text()) for name in ("attached", "own")]
    assert runs[0]["n_pairs"] == runs[1]["n_pairs"] and runs[0]["n_best"] == runs[1]["n_best"]
    # the attached run printed its summary on the caller's own stdout
    assert json.loads(attached.stdout[attached.stdout.index("{"):])["n_pairs"] == runs[0]["n_pairs"]

    stopped = radiolake(home, "engine", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not sock.exists() and not running(first["pid"])
    assert radiolake(home, "engine", "status").returncode == 1


def test_without_an_engine_or_with_a_stale_socket_the_command_runs_itself(home, sky, tmp_path):
    assert radiolake(home, *crossmatch_args(sky, tmp_path / "none")).returncode == 0  # no engine: in-process
    sock_path = engine_client.socket_path({"RADIOLAKE_HOME": str(home)})
    sock_path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock_path))
    stale.close()  # the file stays, nobody listens: a killed engine's socket
    ran = radiolake(home, *crossmatch_args(sky, tmp_path / "stale"))
    assert ran.returncode == 0, ran.stderr
    pd.testing.assert_frame_equal(pairs(tmp_path / "stale"), pairs(tmp_path / "none"))
    assert radiolake(home, "engine", "status").returncode == 1
    assert radiolake(home, "engine", "start").returncode == 0  # replaces the stale socket
    assert status(home)["runs_served"] == 0


def test_an_engine_that_dies_during_a_run_is_a_clear_error(home, sky, tmp_path):
    assert radiolake(home, "engine", "start").returncode == 0
    pid = status(home)["pid"]
    os.kill(pid, signal.SIGSTOP)  # the engine takes no more requests; the kernel still queues connections
    try:
        env = {**os.environ, "RADIOLAKE_HOME": str(home), "RADIOLAKE_ENGINE": ""}
        client = subprocess.Popen([CLI, *crossmatch_args(sky, tmp_path / "dies")], env=env, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not psutil.Process(client.pid).net_connections("unix") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # connected: its request is sent right after
    finally:
        os.kill(pid, signal.SIGKILL)
    out, err = client.communicate(timeout=120)
    assert client.returncode == 1, out + err
    assert "engine stopped before the run finished" in err and "RADIOLAKE_ENGINE=off" in err
    assert not (tmp_path / "dies" / "run.json").exists()
    after = radiolake(home, *crossmatch_args(sky, tmp_path / "after"))  # its socket is now stale: runs itself
    assert after.returncode == 0, after.stderr


def test_stack_down_stops_the_engine_of_its_state_directory(home):
    """`radiolake stack down` promises to stop everything: an engine left running would hold its memory and
    socket after the user thinks the project is stopped."""
    started = radiolake(home, "engine", "start")
    assert started.returncode == 0, started.stdout + started.stderr
    pid = int(status(home)["pid"])
    StateDir(home).check_version()  # an engine started before any stack: a stack can still start here
    (home / "strange").mkdir()
    with pytest.raises(StackError, match="strange"):  # anything else there: not a state directory
        StateDir(home).check_version()
    (home / "strange").rmdir()
    down = radiolake(home, "stack", "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert f"engine pid {pid} stopped" in down.stdout
    assert status(home) is None and not running(pid)
    again = radiolake(home, "stack", "down")  # nothing left to stop: still a success, no engine named
    assert again.returncode == 0 and "engine" not in again.stdout
