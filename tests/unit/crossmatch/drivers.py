"""The one driver on Spark, as the tests call it: keyword arguments in, run.json's content out."""

from __future__ import annotations

from typing import Any

from radiolake.crossmatch.driver import run_crossmatch
from radiolake.crossmatch.executors import Executor, SparkExecutor
from radiolake.crossmatch.match_config import MatchConfig, RunLabels


def run_on(executor: Executor, radio: str, stars: str, out: str | None, *, run_id: str | None = None,
           **config: Any) -> dict:
    """run_crossmatch on `executor` with MatchConfig(**config); returns the summary (run.json's content)."""
    return run_crossmatch(executor, radio, stars, out, MatchConfig(**config), RunLabels(run_id=run_id)).summary


def spark_run(spark: Any, radio: str, stars: str, out: str | None, **kwargs: Any) -> dict:
    """run_on with a SparkExecutor over `spark` (the tests' local session)."""
    return run_on(SparkExecutor(spark), radio, stars, out, **kwargs)
