"""Managed background processes: PID files, stale PID files, clear failures, no strays."""

import os
import subprocess
import sys
import time

import psutil
import pytest

from radiolake.stack.errors import StackError
from radiolake.stack.process import MARKER, ManagedProcess, kill_strays, stack_processes
from radiolake.stack.state import StateDir


@pytest.fixture
def state(tmp_path):
    s = StateDir(tmp_path / "home")
    s.prepare()
    yield s
    kill_strays(s.root)


def test_start_stop_leaves_no_process(state):
    proc = ManagedProcess("sleeper", ["sleep", "300"], state, cwd=state.root)
    pid = proc.start()
    assert psutil.pid_exists(pid) and proc.pid() == pid
    assert proc.start() == pid  # idempotent
    proc.stop()
    assert proc.pid() is None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not proc.pid_file.exists()


def test_stale_pid_file_is_ignored(state):
    # A PID file naming a live process that is not ours (this test run) must not count as running.
    proc = ManagedProcess("ghost", ["sleep", "300"], state)
    proc.pid_file.write_text(f"{os.getpid()} 12345.00\n")
    assert proc.pid() is None
    assert not proc.pid_file.exists()
    proc.pid_file.write_text("garbage")
    assert proc.pid() is None


def test_process_that_dies_is_reported_with_its_log(state):
    proc = ManagedProcess("crasher", [sys.executable, "-c", "print('boom: bad config'); raise SystemExit(3)"],
                          state, cwd=state.root)
    proc.start()
    with pytest.raises(StackError) as info:
        proc.wait_ready(lambda: False, timeout=20, what="never ready")
    message = str(info.value)
    assert "crasher" in message and "exited" in message
    assert str(proc.log_file) in message and "boom: bad config" in message


def test_wait_is_bounded(state):
    proc = ManagedProcess("slowpoke", ["sleep", "300"], state, cwd=state.root)
    proc.start()
    with pytest.raises(StackError, match="not ready after 1 s"):
        proc.wait_ready(lambda: False, timeout=1, what="a port")
    proc.stop()


def _unmarked_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != MARKER}


def test_kill_strays_finds_children_that_left_the_group(state):
    # A grandchild in its own session escapes killpg; the environment mark still finds it.
    # Not started as a group leader, so `setsid` detaches itself in place (no fork, no race).
    escaped = subprocess.Popen(["setsid", "sleep", "300"], cwd=state.root,
                               env={**_unmarked_env(), MARKER: str(state.root)})
    # `setsid` execs `sleep` right after Popen returns; mid-exec its environment can read as empty, so look
    # again for a few seconds (one look straight after Popen failed once in CI).
    deadline = time.monotonic() + 5
    while not (procs := stack_processes(state.root)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [p.pid for p in procs] == [escaped.pid], "the escaped process should be found by its mark"
    assert kill_strays(state.root) >= 1
    assert stack_processes(state.root) == []
    assert escaped.wait(timeout=5) is not None


def test_a_users_shell_in_the_state_directory_survives_down(state):
    # Someone `cd`s into the state directory to read the logs: same cwd, no mark, not one of the stack's
    # programs. `down` must leave that shell alone.
    shell = subprocess.Popen(["bash", "-c", "sleep 300; true"], cwd=state.logs, env=_unmarked_env(),
                             start_new_session=True)
    try:
        assert shell.pid not in [p.pid for p in stack_processes(state.root)]
        kill_strays(state.root)
        assert shell.poll() is None, "the user's shell was killed"
    finally:
        shell.kill()
        shell.wait(timeout=5)


def test_a_retitled_stack_program_is_found_by_cwd_and_title(state):
    # Airflow and PostgreSQL overwrite their environment with their process title; cwd plus title finds
    # them. `exec -a` gives the process the title setproctitle would.
    retitled = subprocess.Popen(["bash", "-c", "exec -a 'airflow scheduler' sleep 300"], cwd=state.root,
                                env=_unmarked_env(), start_new_session=True)
    try:
        deadline = time.monotonic() + 5
        while psutil.Process(retitled.pid).cmdline()[:1] != ["airflow scheduler"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert retitled.pid in [p.pid for p in stack_processes(state.root)]
        kill_strays(state.root)
        assert retitled.wait(timeout=5) is not None
    finally:
        if retitled.poll() is None:
            retitled.kill()


# What `Airflow.start()` relies on to recover from a database crash (issue 24, item 10): when a component
# started, and a wait that fails at once, naming the component, when one it depends on exits.


def test_started_at_is_the_live_process_s_start_and_none_once_it_stopped(state):
    proc = ManagedProcess("sleeper", ["sleep", "300"], state, cwd=state.root)
    pid = proc.start()
    assert proc.started_at() == pytest.approx(psutil.Process(pid).create_time(), abs=0.01)
    proc.stop()
    assert proc.started_at() is None


def test_wait_fails_at_once_naming_a_watched_process_that_exited(state):
    """The api-server answers, but the triggerer it reports on is gone: waiting for its heartbeat would
    only end at the timeout, under the api-server's name."""
    api = ManagedProcess("airflow-api-server", ["sleep", "300"], state, cwd=state.root)
    triggerer = ManagedProcess("airflow-triggerer", ["true"], state, cwd=state.root)
    api.start()
    triggerer.start()
    with pytest.raises(StackError, match=r"^airflow-triggerer: exited while starting") as failed:
        api.wait_ready(lambda: False, timeout=600, what="heartbeats", also=[triggerer])
    assert str(triggerer.log_file) in str(failed.value)
    api.stop()
