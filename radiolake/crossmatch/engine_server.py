"""The cross-match engine: a long-running local process that has paid a run's start once, so that every
`radiolake crossmatch` attached to it pays only its own work.

A cross-match in a new process spends ~2 s before it reads a row (interpreter, pyarrow, pandas, astropy,
the driver's modules, the worker pool's start), about as long as matching 10 M stars takes on two cores. The
engine imports all of that once (`PRELOAD`) and then waits on a Unix socket; `radiolake crossmatch` (the
console script, engine_client.run_attached) hands it the command, and the engine forks a child for the run:
the child takes the caller's stdin/stdout/stderr (passed as file descriptors), working folder, environment and
umask, runs the very same CLI code as a process of its own would (crossmatch.cli.run_command), and forks its
worker pool from itself (warm: everything is imported already). One child per run, so runs are isolated
from each other and from the engine: settings are read from the caller's environment, a crash ends one run,
memory goes back when the run ends, and several commands may run at once.

Safety: the socket lives in `<RADIOLAKE_HOME>/engine/` (0700), is itself 0600, and a connection from another
user is refused (SO_PEERCRED); nothing listens on a network. One engine per state directory (a lock file
held for its life); a stale socket (a killed engine's) is replaced at start and ignored by clients. A client
that goes away (Ctrl-C) has its run's process group ended; `stop` ends the runs in progress, removes the
socket and exits. A run's child dies with the engine (PR_SET_PDEATHSIG) and its client then says so. When the
radiolake code on disk changed since the engine imported it, a run is not served (the client runs it in its
own process and says why): an engine never answers with older code than the checkout's.

    python -m radiolake.crossmatch.engine_server       # serve (what `radiolake engine start` runs, detached)
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from radiolake.config import state_home
from radiolake.crossmatch import engine_client as client

#: What a cross-match imports, lazily or not (a run's sys.modules): imported once by the engine, so a run's
#: child starts with them loaded. A module missing here only costs its import in each run.
PRELOAD = (
    "numpy", "pyarrow", "pyarrow.parquet", "pyarrow.compute", "pyarrow.dataset", "pyarrow.fs", "pandas",
    "astropy.units", "astropy.coordinates", "astropy.time", "astropy.table", "erfa", "cdshealpix.nested",
    "typer", "rich.console", "rich.progress", "pydantic", "yaml", "psutil",
    "radiolake.crossmatch.cli", "radiolake.crossmatch.runner", "radiolake.crossmatch.driver",
    "radiolake.crossmatch.executors", "radiolake.crossmatch.star_task", "radiolake.crossmatch.partitioning",
    "radiolake.crossmatch.engine", "radiolake.crossmatch.user_input", "radiolake.crossmatch.input_cache",
    "radiolake.crossmatch.versions", "radiolake.crossmatch.increment", "radiolake.crossmatch.inputs",
    "radiolake.crossmatch.output", "radiolake.crossmatch.assemble", "radiolake.crossmatch.reduce",
    "radiolake.crossmatch.density", "radiolake.crossmatch.priors", "radiolake.crossmatch.likelihood",
    "radiolake.crossmatch.populations", "radiolake.crossmatch.offsets", "radiolake.crossmatch.plan",
    "radiolake.crossmatch.star_chunks", "radiolake.crossmatch.zones", "radiolake.crossmatch.kernels",
    "radiolake.crossmatch.pairs", "radiolake.crossmatch.epochs", "radiolake.crossmatch.validity",
    "radiolake.crossmatch.match_config", "radiolake.crossmatch.io", "radiolake.spark.io",
    "radiolake.ingest.catalog", "radiolake.ingest.pins", "numpy.rec", "multiprocessing.popen_fork",
    "multiprocessing.synchronize", "pydantic.main", "pydantic.type_adapter", "typer._adapters",
    "rich._emoji_codes", "rich.highlighter",
)
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


def preload() -> float:
    """Import PRELOAD (a module that fails to import is left to the run, which will say why) and do once
    what each run's first call would (the CLI's click command and option types); seconds. Nothing here starts
    a thread: the runs are forked from this process."""
    t0 = time.perf_counter()
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    import typer.main

    from radiolake.crossmatch.cli import crossmatch_app

    typer.main.get_command(crossmatch_app())
    return time.perf_counter() - t0


def code_stamp() -> float:
    """The newest modification time of radiolake's loaded modules: a run is served only while it holds."""
    stamp = 0.0
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) if name.startswith("radiolake") else None
        if path:
            with contextlib.suppress(OSError):
                stamp = max(stamp, os.stat(path).st_mtime)
    return stamp


@dataclass
class Run:
    """A run in progress: the forked child, the client connection its exit code goes to, a pidfd to wait on."""

    pid: int
    conn: socket.socket
    pidfd: int
    argv: list[str]
    t0: float = field(default_factory=time.monotonic)


class Engine:
    """The server: one listening socket, one forked child per run, a selector over both (no threads, so each
    fork copies a single-threaded process)."""

    def __init__(self, home: Path) -> None:
        self.dir = home / client.ENGINE_DIR
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.socket_path = self.dir / client.SOCKET_NAME
        if len(str(self.socket_path).encode()) > 107:
            raise client.EngineError(f"socket path too long for a Unix socket: {self.socket_path} (set a "
                                     "shorter RADIOLAKE_HOME)")
        self._lock = open(self.dir / "engine.lock", "w")  # noqa: SIM115 - held for the engine's life
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise client.EngineError(f"an engine already serves {home}") from exc
        self.started = time.time()
        self.preload_s = preload()
        from radiolake.crossmatch import executors

        executors.WORKER_START = "fork"  # a run's pool forks from its child, where everything is imported
        self.stamp = code_stamp()
        self.runs: dict[int, Run] = {}
        self.served = 0
        self.stopping = False
        self.sel = selectors.DefaultSelector()
        self.listener = self._listen()

    def _listen(self) -> socket.socket:
        """The socket, 0600 from its creation (umask), replacing a stale one (the lock says none serves it)."""
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.socket_path))
        finally:
            os.umask(old)
        self.socket_path.chmod(0o600)
        sock.listen(64)
        self.sel.register(sock, selectors.EVENT_READ, ("accept", None))
        (self.dir / "engine.json").write_text(json.dumps(self.status()))
        return sock

    def status(self) -> dict:
        return {"pid": os.getpid(), "socket": str(self.socket_path), "started": self.started,
                "uptime_s": round(time.time() - self.started, 1), "preload_s": round(self.preload_s, 2),
                "runs_served": self.served, "runs_running": len(self.runs), "python": sys.executable,
                "code_changed": code_stamp() != self.stamp}

    def serve(self) -> None:
        import gc

        gc.collect()
        gc.freeze()  # the imported objects are never collected: a run's GC does not touch (copy) their pages
        log(f"engine {os.getpid()} serving {self.socket_path} (imports {self.preload_s:.2f} s)")
        try:
            while not self.stopping:
                for key, _ in self.sel.select():
                    kind, run = key.data
                    if kind == "accept":
                        self._accept()
                    elif kind == "exit":
                        self._finished(run)
                    elif run.pid in self.runs:  # the client hung up (Ctrl-C): its run ends with it
                        self._end(run, "client went away")
        finally:
            self.close()

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        try:
            _, uid, _ = _PEERCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
            if uid != os.getuid():
                log(f"refused a connection from uid {uid}")
                conn.close()
                return
            conn.settimeout(10.0)
            message, fds = client.recv_message(conn, max_fds=len(client.STREAMS))
        except (OSError, ValueError) as exc:
            log(f"bad request: {exc}")
            conn.close()
            return
        op = (message or {}).get("op")
        if op == "run" and len(fds) == len(client.STREAMS):
            self._start_run(conn, message, fds)
            return
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(OSError), conn:
            if op == "stop":
                self.stopping = True
            client.send_message(conn, self.status() if op in ("status", "stop") else {"error": f"unknown {op!r}"})

    def _start_run(self, conn: socket.socket, message: dict, fds: list[int]) -> None:
        if code_stamp() != self.stamp:
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(OSError), conn:
                client.send_message(conn, {"fallback": "the radiolake engine runs older code than the checkout "
                                                       "(restart it: radiolake engine stop; radiolake engine start)"})
            return
        pid = os.fork()
        if pid == 0:  # the run's child: never returns
            code = 1
            try:
                code = _run_child(message, fds, self._inherited(conn))
            except BaseException:  # noqa: BLE001 - whatever happens, the child must not return into the loop
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        run = Run(pid, conn, os.pidfd_open(pid), list(message.get("argv", [])))
        self.runs[pid] = run
        conn.settimeout(None)
        self.sel.register(run.pidfd, selectors.EVENT_READ, ("exit", run))
        self.sel.register(conn, selectors.EVENT_READ, ("client", run))

    def _inherited(self, conn: socket.socket) -> list:
        """What a run's child must not keep: the engine's socket, selector, lock and connections."""
        return [self.listener, self.sel, self._lock, conn,
                *(r.conn for r in self.runs.values()), *(r.pidfd for r in self.runs.values())]

    def _finished(self, run: Run) -> None:
        _, status = os.waitpid(run.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self._forget(run)
        self.served += 1
        log(f"run {run.pid} {' '.join(run.argv[:1])}: exit {code} after {time.monotonic() - run.t0:.2f} s")
        with contextlib.suppress(OSError):
            client.send_message(run.conn, {"exit": code} if code >= 0 else {"signal": -code})
        run.conn.close()

    def _forget(self, run: Run) -> None:
        self.runs.pop(run.pid, None)
        for obj in (run.pidfd, run.conn):
            with contextlib.suppress(KeyError, ValueError):
                self.sel.unregister(obj)
        os.close(run.pidfd)

    def _end(self, run: Run, why: str) -> None:
        """End a run's process group (its child and the child's workers) and reap the child."""
        log(f"ending run {run.pid}: {why}")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while os.waitpid(run.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)
                os.waitpid(run.pid, 0)
                break
            time.sleep(0.02)
        self._forget(run)
        run.conn.close()

    def close(self) -> None:
        """Stop: the runs in progress end, the socket and the status record go, the lock is released."""
        for run in list(self.runs.values()):
            self._end(run, "engine stopping")
        with contextlib.suppress(OSError):
            self.sel.unregister(self.listener)
        self.listener.close()
        for path in (self.socket_path, self.dir / "engine.json"):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._lock.close()
        log(f"engine {os.getpid()} stopped after {self.served} runs")


def _run_child(message: dict, fds: list[int], inherited: list) -> int:
    """In the run's forked child: become the caller's process (streams, folder, environment, umask) and run
    the command as the console script would."""
    for obj in inherited:
        with contextlib.suppress(OSError):
            os.close(obj) if isinstance(obj, int) else obj.close()
    os.setpgid(0, 0)  # its own process group: the engine ends the run and its workers together
    _die_with_parent()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in zip(client.STREAMS, fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1 if os.isatty(1) else -1, closefd=False, errors="backslashreplace")  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
    os.chdir(message["cwd"])
    os.environ.clear()
    os.environ.update(message["env"])
    os.umask(int(message["umask"]))
    argv = [str(a) for a in message["argv"]]
    sys.argv = ["radiolake", *argv]
    client.COMMAND_STARTED = message.get("started")
    from radiolake.crossmatch.cli import run_command

    code = run_command(argv)
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _die_with_parent() -> None:
    """The run's child gets SIGTERM when the engine dies (Linux), so no run outlives it unseen."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def log(line: str) -> None:
    print(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {line}", flush=True)


def main() -> int:
    try:
        engine = Engine(state_home())
    except client.EngineError as exc:
        log(f"error: {exc}")
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # `kill <pid>`: the same clean stop as `stop`
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    engine.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
