"""Attach `radiolake crossmatch` to a running cross-match engine (engine_server.py), or say there is none.

Why: a new process pays ~2 s of interpreter and imports (pyarrow, pandas, astropy, the driver) and its
workers' start before it matches anything; the engine has paid them once. So the console script asks here
first: when an engine listens on `<RADIOLAKE_HOME>/engine/engine.sock`, the command is handed over whole (its
arguments, working folder, environment, umask and this process's stdin/stdout/stderr, passed as file
descriptors) and this process only waits for the exit code. The run itself happens in a child the engine forks
for it, writing straight to this terminal; nothing of the run is sent back.

This module imports only the standard library and `radiolake.config` (~30 ms): it runs before anything else
in every attached command. With no engine (no socket, or a stale one nobody listens on) `run_attached`
returns None and the caller runs the command in its own process as before; `RADIOLAKE_ENGINE=off` skips the
engine even when one runs. An engine that dies during a run gives a clear error, never a silent fallback (the
run may have written part of its output).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from radiolake.config import state_home

#: The engine's folder under the state directory (0700): its socket (0600), pid record, lock and log.
ENGINE_DIR = "engine"
SOCKET_NAME = "engine.sock"
LOG_NAME = "engine.log"
#: `RADIOLAKE_ENGINE` values that keep every command in its own process.
OFF = ("off", "0", "no", "false")
#: The standard streams handed to the engine's run.
STREAMS = (0, 1, 2)
_LEN = struct.Struct("!I")
#: When the command began on the boot clock, if not this process's own start: the engine's run child sets
#: it to the attached command's, so run.json's `before_run` covers the whole command (seconds_since_start).
COMMAND_STARTED: float | None = None


class EngineError(RuntimeError):
    """The engine could not be reached, started or stopped as asked."""


def engine_dir(env: dict[str, str] | None = None) -> Path:
    return state_home(env) / ENGINE_DIR


def socket_path(env: dict[str, str] | None = None) -> Path:
    return engine_dir(env) / SOCKET_NAME


def send_message(sock: socket.socket, message: dict, fds: tuple[int, ...] = ()) -> None:
    """One length-prefixed JSON message; `fds` ride along with its first bytes (SCM_RIGHTS)."""
    data = json.dumps(message).encode()
    frame = _LEN.pack(len(data)) + data
    sent = socket.send_fds(sock, [frame], list(fds)) if fds else sock.send(frame)
    if sent < len(frame):
        sock.sendall(frame[sent:])


def recv_message(sock: socket.socket, max_fds: int = 0) -> tuple[dict | None, list[int]]:
    """(the next message, the file descriptors that came with it); (None, []) when the peer closed first."""
    fds: list[int] = []
    head = b""
    while len(head) < _LEN.size:
        if max_fds and not fds:
            chunk, got, _, _ = socket.recv_fds(sock, _LEN.size - len(head), max_fds)
            fds.extend(got)
        else:
            chunk = sock.recv(_LEN.size - len(head))
        if not chunk:
            for fd in fds:
                os.close(fd)
            return None, []
        head += chunk
    (size,) = _LEN.unpack(head)
    body = b""
    while len(body) < size:
        chunk = sock.recv(min(size - len(body), 1 << 20))
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body), fds


def connect(env: dict[str, str] | None = None, timeout: float | None = 5.0) -> socket.socket | None:
    """A connection to the engine, or None when none listens (no socket file, or a stale one left by an engine
    that was killed: refused)."""
    path = socket_path(env)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        sock.close()
        return None
    except OSError as exc:
        sock.close()
        raise EngineError(f"cannot reach the radiolake engine at {path}: {exc}") from exc
    return sock


def request(op: str, env: dict[str, str] | None = None, timeout: float = 10.0) -> dict | None:
    """Send `op` (status, stop) and return the engine's answer; None when no engine listens."""
    sock = connect(env, timeout)
    if sock is None:
        return None
    with sock:
        send_message(sock, {"op": op})
        reply, _ = recv_message(sock)
    return reply


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (which may hold spaces): [0] the state, [19] the start."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_start(pid: int | str = "self") -> float:
    """When a process started, in seconds on the boot clock (/proc's start time, exact to a clock tick;
    psutil's create_time adds a boot time rounded to the second)."""
    return int(_stat_fields(pid)[19]) / os.sysconf("SC_CLK_TCK")


def seconds_since_start() -> float:
    """Seconds since this command started (COMMAND_STARTED, else this process's start); 0 where unknown."""
    start = COMMAND_STARTED if COMMAND_STARTED is not None else _started()
    try:
        return 0.0 if start is None else max(time.clock_gettime(time.CLOCK_BOOTTIME) - start, 0.0)
    except (OSError, AttributeError):  # no boot clock
        return 0.0


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def run_attached(args: list[str]) -> int | None:
    """Run `radiolake <args>` in the engine with this process's streams; its exit code, or None when there is
    no engine to attach to (or it asks the caller to run the command itself)."""
    if os.environ.get("RADIOLAKE_ENGINE", "").strip().lower() in OFF:
        return None
    sock = connect(timeout=10.0)
    if sock is None:
        return None
    with sock:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        send_message(sock, {"op": "run", "argv": args, "cwd": os.getcwd(), "env": dict(os.environ),
                            "umask": _umask(), "started": _started()}, STREAMS)
        sock.settimeout(None)  # a run takes as long as it takes; the engine answers when it ends
        try:
            reply, _ = recv_message(sock)
        except KeyboardInterrupt:
            return 130  # closing the connection makes the engine stop the run
        except ConnectionError:
            reply = None
    if reply is None:
        print("error: the radiolake engine stopped before the run finished (its log: "
              f"{engine_dir() / LOG_NAME}); the run's output may be incomplete. Start it again with "
              "`radiolake engine start`, or run without it: RADIOLAKE_ENGINE=off", file=sys.stderr)
        return 1
    if "fallback" in reply:
        print(f"note: {reply['fallback']}; running in this process", file=sys.stderr)
        return None
    if "signal" in reply:
        print(f"error: the cross-match was killed by signal {reply['signal']} in the radiolake engine "
              f"(log: {engine_dir() / LOG_NAME})", file=sys.stderr)
        return 1
    return int(reply["exit"])


def _started() -> float | None:
    try:
        return process_start()
    except (OSError, ValueError, IndexError):
        return None


def start(env: dict[str, str] | None = None, wait_s: float = 120.0) -> dict:
    """Start an engine for this state directory in the background (nothing if one runs) and return its status
    once it answers. The engine outlives this process: `stop` ends it."""
    running = request("status", env)
    if running is not None:
        return {**running, "already_running": True}
    folder = engine_dir(env)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    with open(folder / LOG_NAME, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "radiolake.crossmatch.engine_server"],
                                env={**(os.environ if env is None else env), "RADIOLAKE_HOME": str(state_home(env))},
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                cwd=str(folder))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        status = request("status", env)
        if status is not None:
            return status
        if proc.poll() is not None:
            raise EngineError(f"the radiolake engine exited at start ({proc.returncode}); see {folder / LOG_NAME}")
        time.sleep(0.05)
    proc.kill()
    raise EngineError(f"the radiolake engine did not answer within {wait_s:.0f} s; see {folder / LOG_NAME}")


def stop(env: dict[str, str] | None = None, wait_s: float = 30.0) -> dict | None:
    """Stop the engine (runs in progress are ended) and wait until its process is gone; None if none ran."""
    reply = request("stop", env)
    if reply is None:
        return None
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not _alive(int(reply["pid"])):
            return reply
        time.sleep(0.02)
    raise EngineError(f"the radiolake engine (pid {reply['pid']}) did not stop within {wait_s:.0f} s")


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, exited but not yet reaped by the process that started it, does not)."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
