"""Background processes with a PID file, a log file and a process group, so `down` leaves nothing behind.

A PID file holds the PID and the process's start time, so a file whose process is gone, or whose PID was
reused by another program, is stale and ignored. Every process the stack starts runs with umask 077 (what it
creates is private to the stack's account, see `state`) and with its working directory
inside the state directory (PostgreSQL chdirs into its data directory itself) and carries
`RADIOLAKE_STACK_HOME=<state dir>` in its environment; `kill_strays` sweeps whatever still carries the mark
(children that left the process group included). The environment alone is not enough: Airflow and PostgreSQL
rewrite their process titles, which overwrites /proc/PID/environ; such a process counts as the stack's only if
its working directory is inside the state directory *and* its title is one of the stack's programs. A working
directory alone never does: that may be a user's shell or editor looking at the logs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from radiolake.stack.errors import StackError, tail
from radiolake.stack.state import UMASK, StateDir, append_private, write_private

MARKER = "RADIOLAKE_STACK_HOME"


#: Titles of the stack's programs that overwrite their environment (setproctitle, PostgreSQL's ps_status).
RETITLED_PROGRAMS = ("airflow", "postgres")


def _marked_with(proc: psutil.Process, home: str) -> bool:
    try:
        if proc.environ().get(MARKER) == home:
            return True
        cwd = proc.cwd()
        if not (cwd == home or cwd.startswith(home + os.sep)):
            return False
        cmdline = proc.cmdline()
        title = os.path.basename(cmdline[0]) if cmdline else proc.name()
        return title.startswith(RETITLED_PROGRAMS)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


@dataclass
class ManagedProcess:
    """One long-running program of the stack."""

    service: str
    argv: Sequence[str]
    state: StateDir
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def log_file(self) -> Path:
        return self.state.log_file(self.service)

    @property
    def pid_file(self) -> Path:
        return self.state.pid_file(self.service)

    def pid(self) -> int | None:
        """PID of the live process, or None; a stale PID file is removed."""
        try:
            pid_text, started = self.pid_file.read_text().split()
            pid = int(pid_text)
        except (FileNotFoundError, ValueError):
            self.pid_file.unlink(missing_ok=True)
            return None
        try:
            proc = psutil.Process(pid)
            alive = proc.status() != psutil.STATUS_ZOMBIE and f"{proc.create_time():.2f}" == started
        except psutil.NoSuchProcess:
            alive = False
        if not alive:
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def start(self) -> int:
        if (pid := self.pid()) is not None:
            return pid
        env = {**os.environ, **self.env, MARKER: str(self.state.root)}
        with append_private(self.log_file) as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {' '.join(self.argv)}\n".encode())
            log.flush()
            try:
                proc = subprocess.Popen(
                    list(self.argv), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=env, cwd=self.cwd, start_new_session=True, umask=UMASK,
                )
            except OSError as exc:
                raise StackError(self.service, f"cannot run {self.argv[0]}: {exc}", self.log_file) from exc
        write_private(self.pid_file, f"{proc.pid} {psutil.Process(proc.pid).create_time():.2f}\n")
        return proc.pid

    def started_at(self) -> float | None:
        """When the live process started (seconds since the epoch, as its PID file records), or None."""
        if self.pid() is None:
            return None
        return float(self.pid_file.read_text().split()[1])

    def wait_ready(self, check: Callable[[], bool], timeout: float, what: str,
                   also: Sequence[ManagedProcess] = ()) -> None:
        """Poll `check` until true; fail fast if the process, or one in `also` (which the check depends on),
        died: it would never be ready then. Fail clearly on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if dead := next((p for p in (self, *also) if p.pid() is None), None):
                raise StackError(dead.service, f"exited while starting ({what})", dead.log_file,
                                 tail(dead.log_file))
            try:
                if check():
                    return
            except Exception:  # noqa: BLE001 - a check that raises is simply "not ready yet"
                pass
            time.sleep(0.5)
        raise StackError(self.service, f"not ready after {timeout:.0f} s ({what})", self.log_file,
                         tail(self.log_file))

    def stop(self, timeout: float = 20.0) -> None:
        pid = self.pid()
        if pid is None:
            return
        terminate_group(pid, timeout)
        self.pid_file.unlink(missing_ok=True)


def terminate_group(pid: int, timeout: float) -> None:
    """SIGTERM the process group led by `pid`, then SIGKILL whatever is left after `timeout`."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    procs = _group_members(pgid)
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def stack_processes(home: Path) -> list[psutil.Process]:
    """Every live process marked as belonging to the stack at `home` (except this one)."""
    me = os.getpid()
    return [p for p in psutil.process_iter() if p.pid != me and _marked_with(p, str(home))]


def kill_strays(home: Path, timeout: float = 10.0) -> int:
    procs = stack_processes(home)
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    return len(procs)
