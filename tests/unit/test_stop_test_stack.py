"""tests/_session.py `stop_test_stack`: a test stack's S3 server is SIGKILLed (its data is deleted next), then
the stack's own `down()` stops the rest, and the state folder goes; kept with RADIOLAKE_KEEP_TEST_STATE=1.

A stand-in stack whose "S3 server" is a real process group that ignores SIGTERM (as SeaweedFS's graceful stop
keeps it alive for 20-25 s), so no embedded stack is needed to see which signal reaches it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from tests._session import stop_test_stack

#: A parent and a child that both ignore SIGTERM: only SIGKILL ends them.
STUBBORN = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "subprocess.Popen([sys.executable, '-c', 'import signal, time; "
            "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)']); time.sleep(600)")


@dataclass
class _ObjectStore:
    proc: subprocess.Popen

    def pid(self) -> int | None:
        return self.proc.pid if self.proc.poll() is None else None


@dataclass
class _Stack:
    objectstore: _ObjectStore
    downs: list[int | None] = field(default_factory=list)

    def down(self) -> int:
        self.downs.append(self.objectstore.pid())  # what down() would still have to stop
        return 0


@pytest.fixture
def fake_stack():
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], start_new_session=True)
    yield _Stack(_ObjectStore(proc))
    if proc.poll() is None:  # a failed test: leave nothing behind
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _children_soon(pid: int) -> list[psutil.Process]:
    for _ in range(100):
        if kids := psutil.Process(pid).children(recursive=True):
            return kids
        time.sleep(0.05)
    raise AssertionError("the stand-in S3 server never started its child")


def test_the_s3_server_is_killed_before_down_and_the_folder_deleted(fake_stack, tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RADIOLAKE_KEEP_TEST_STATE", raising=False)
    home = tmp_path / "state"
    home.mkdir()
    child = _children_soon(fake_stack.objectstore.proc.pid)[0]
    stop_test_stack(fake_stack, home)
    fake_stack.objectstore.proc.wait(timeout=10)  # both ignore SIGTERM: gone means SIGKILLed
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert fake_stack.downs == [None]  # down() ran after, with the S3 server already gone
    assert not home.exists()


def test_a_kept_state_folder_gets_the_graceful_stop(fake_stack, tmp_path: Path, monkeypatch):
    monkeypatch.setenv("RADIOLAKE_KEEP_TEST_STATE", "1")
    home = tmp_path / "state"
    home.mkdir()
    stop_test_stack(fake_stack, home)
    assert fake_stack.downs == [fake_stack.objectstore.proc.pid]  # left to down() (here a stand-in that stops nothing)
    assert home.is_dir()
