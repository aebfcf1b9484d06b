"""What `Airflow.start()` relies on to recover from a database crash (issue 24, item 10): when a component
started, and a wait that fails at once, naming the component, when one it depends on exits."""

import psutil
import pytest

from radiolake.stack.errors import StackError
from radiolake.stack.process import ManagedProcess, kill_strays
from radiolake.stack.state import StateDir


@pytest.fixture
def state(tmp_path):
    s = StateDir(tmp_path / "home")
    s.prepare()
    yield s
    kill_strays(s.root)


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
