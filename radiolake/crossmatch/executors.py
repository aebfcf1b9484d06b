"""Where the cross-match's star tasks run: the driver hands an executor a function, one shared value (the
radio rows) and the tasks; the executor returns the tasks' results in task order.

- `MapExecutor`: in this process, one task after the other (Python's `map`): tests, notebooks, the in-memory
  `core.crossmatch_frames`. No JVM, nothing pickled.
- `PoolExecutor`: a pool of local worker processes (no JVM): a run on one machine. Its workers are forked
  from a server that has imported the task module, so they start in milliseconds, warm, while the driver
  plans; the shared value is pickled once to a file each worker loads once. Local Spark runs the same tasks
  on the same cores, behind a JVM start and a scheduler round trip per task.
- `SparkExecutor`: Spark (local or a cluster) for spark-submit, clusters and the DAGs on the stack's cluster:
  the shared value travels once per executor as a broadcast, each task is one Spark partition, no shuffle.
  The session may be given as a callable (a Future's `result`), so the driver plans while the JVM starts.

Both run the very same task function (star_task.run_star_group) on the very same payloads, so the driver has
one path for both; an executor only decides where a task runs.
"""

from __future__ import annotations

import math
import os
import pickle
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from pyspark import Broadcast, SparkContext
    from pyspark.sql import SparkSession

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")

#: Rows one task takes at most (its chunks run one after the other, so memory stays one chunk's).
TASK_ROWS = 5_000_000


class Executor(Protocol):
    """Runs `fn(shared, task)` for every task and returns the results in task order."""

    def parallelism(self) -> int:
        """How many tasks can run at once (the driver makes about two tasks per slot)."""

    def start(self) -> None:
        """Be ready to run tasks (a Spark executor waits for its session here)."""

    def map(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> list[R]:
        """[fn(shared, t) for t in tasks], wherever the executor runs them."""


class MapExecutor:
    """Every task in this process, one after the other."""

    def parallelism(self) -> int:
        return 1

    def start(self) -> None:
        return None

    def map(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> list[R]:
        return [fn(shared, t) for t in tasks]


#: The modules a pool worker imports before its first task (forkserver preload: every worker forks warm): the
#: star tasks' and the offset skies' replicas' (engine.sky_replicas), and pandas: pyarrow imports it at a
#: task's first pa.array (its pandas-compat checks), which each worker otherwise paid in its first task.
TASK_MODULES = ("radiolake.crossmatch.star_task", "radiolake.crossmatch.partitioning", "pandas",
                "pyarrow.pandas_compat")
#: How a pool starts its workers: "forkserver" (a fresh server that imports TASK_MODULES, then forks them:
#: a new process has imported nothing else worth copying) or "fork" (from this process: the engine's run
#: child, engine_server.py, which has everything imported and no threads yet when the pool starts).
WORKER_START = "forkserver"
#: In a pool worker: (file, value) of the shared value last loaded (one run's radio rows at a time).
_shared: tuple[str, object] | None = None


def _with_shared_file(fn: Callable[[Any, T], R], path: str, task: T) -> R:
    """In a pool worker: fn(shared, task), the shared value loaded from `path` once per worker."""
    global _shared
    if _shared is None or _shared[0] != path:
        _shared = None  # the previous run's value goes before the next one is loaded
        with open(path, "rb") as f:
            _shared = (path, pickle.load(f))
    return fn(_shared[1], task)


def _shared_file(shared: object) -> str:
    """`shared` pickled to a new file: in /dev/shm (memory) where there is one and it has room (a container's
    is often 64 MB), else in the temporary folder."""
    dirs = ["/dev/shm", None] if os.path.isdir("/dev/shm") else [None]
    for i, where in enumerate(dirs):
        fd, path = tempfile.mkstemp(prefix="radiolake-shared-", suffix=".pickle", dir=where)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(shared, f, protocol=pickle.HIGHEST_PROTOCOL)
            return path
        except OSError:
            os.unlink(path)
            if i == len(dirs) - 1:
                raise
    raise AssertionError("unreachable")


def _ready() -> int:
    return os.getpid()


class PoolExecutor:
    """Tasks in `workers` local processes; `start` (called at once) forks them while the driver plans."""

    def __init__(self, workers: int | None = None) -> None:
        import multiprocessing

        self._workers = max(1, workers or os.cpu_count() or 1)
        ctx = multiprocessing.get_context(WORKER_START)
        if WORKER_START == "forkserver":
            ctx.set_forkserver_preload(list(TASK_MODULES))
        self._pool = ProcessPoolExecutor(self._workers, mp_context=ctx)
        self._warm = [self._pool.submit(_ready) for _ in range(self._workers)]  # starts every worker now

    def parallelism(self) -> int:
        return self._workers

    def start(self) -> None:
        for f in self._warm:
            f.result()
        self._warm = []

    def map(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> list[R]:
        if not tasks:
            return []
        path = _shared_file(shared)
        try:
            futures = [self._pool.submit(_with_shared_file, fn, path, t) for t in tasks]
            return [f.result() for f in futures]
        finally:
            os.unlink(path)

    def close(self) -> None:
        """Stop the workers (a run's end; the pool cannot be used again)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PoolExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: `--executor` values: `auto` runs the pool when Spark's master would be local (local Spark is the same
#: cores on the same machine, behind a JVM), Spark otherwise (a cluster, or spark-submit's JVM already up).
EXECUTOR_KINDS = ("auto", "spark", "local")
#: A pool begun by `prestart_pool` before the CLI parsed its arguments, for `take_pool`.
_prestarted_pool: PoolExecutor | None = None


def use_local(kind: str | None, master: str | None) -> bool:
    """Whether a run with `--executor kind` on Spark master `master` (None: the default one) runs its tasks
    in a local process pool rather than on Spark."""
    if kind not in (None, *EXECUTOR_KINDS):
        raise ValueError(f"executor {kind!r}: expected one of {', '.join(EXECUTOR_KINDS)}")
    if kind in ("local", "spark"):
        return kind == "local"
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # under spark-submit: its JVM and --master decide
        return False
    if master is None:
        from radiolake.config import get_settings

        master = get_settings().spark_master
    return master.startswith("local")


def local_workers(master: str | None) -> int:
    """Worker processes for a local run: N of `local[N]`, else every core."""
    inner = (master or "").removeprefix("local[").removesuffix("]")
    return int(inner) if master and master.startswith("local[") and inner.isdigit() else os.cpu_count() or 1


def prestart_pool(master: str | None) -> None:
    """Begin the pool now (the CLI, before it imports and parses: the workers warm meanwhile)."""
    global _prestarted_pool
    _prestarted_pool = PoolExecutor(local_workers(master))


def take_pool(master: str | None) -> PoolExecutor:
    """The pool `prestart_pool` began, else a new one."""
    global _prestarted_pool
    pool, _prestarted_pool = _prestarted_pool, None
    return pool or PoolExecutor(local_workers(master))


def _with_broadcast(fn: Callable[[Any, T], R], shared: Broadcast, task: T) -> R:
    return fn(shared.value, task)


class SparkExecutor:
    """Tasks as Spark partitions; the shared value as one broadcast. `session`: a SparkContext or
    SparkSession, or a callable returning one (awaited in `start`)."""

    def __init__(self, session: SparkSession | SparkContext | Callable[[], SparkSession | SparkContext]) -> None:
        self._session = session
        self._sc: SparkContext | None = None

    def start(self) -> None:
        from pyspark import SparkContext
        from pyspark.sql import SparkSession

        if self._sc is None:
            s = self._session if isinstance(self._session, SparkSession | SparkContext) else self._session()
            self._sc = s.sparkContext if isinstance(s, SparkSession) else s

    def parallelism(self) -> int:
        self.start()
        return self._sc.defaultParallelism

    def map(self, fn: Callable[[S, T], R], shared: S, tasks: Sequence[T]) -> list[R]:
        if not tasks:
            return []
        self.start()
        value = self._sc.broadcast(shared)
        try:
            return self._sc.parallelize(list(tasks), len(tasks)).map(partial(_with_broadcast, fn, value)).collect()
        finally:
            value.unpersist()


def task_groups(items: list, rows: list[int], parallelism: int, task_rows: int = TASK_ROWS) -> list[list]:
    """Items grouped into tasks of about equal rows (largest first, each to the lightest task): two tasks per
    slot, so one slow task leaves no core idle for long, more when a task would exceed `task_rows`. Each
    Spark task costs ~0.1 s of scheduling and Python-worker round trip, which one task per chunk paid two
    dozen times on 10 M stars."""
    if not items:
        return []
    n = min(len(items), max(2 * max(parallelism, 1), math.ceil(sum(rows) / task_rows)))
    groups: list[list] = [[] for _ in range(n)]
    load = [0] * n
    for k in sorted(range(len(items)), key=lambda k: -rows[k]):
        g = load.index(min(load))
        groups[g].append(items[k])
        load[g] += rows[k]
    return [g for g in groups if g]
