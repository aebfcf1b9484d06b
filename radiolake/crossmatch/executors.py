"""Where the cross-match's star tasks run: the driver hands an executor a function, one shared value (the
radio rows) and the tasks; the executor returns the tasks' results in task order.

- `MapExecutor`: in this process, one task after the other (Python's `map`): tests, notebooks, the in-memory
  `core.crossmatch_frames`. No JVM, nothing pickled.
- `SparkExecutor`: Spark (local or a cluster) for the CLI, spark-submit and the DAGs: the shared value
  travels once per executor as a broadcast, each task is one Spark partition, no shuffle. The session may be
  given as a callable (a Future's `result`), so the driver plans while the JVM starts.

Both run the very same task function (star_task.run_star_group) on the very same payloads, so the driver has
one path for both; an executor only decides where a task runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
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
