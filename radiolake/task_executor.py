"""Airflow's LocalExecutor, except that task processes never hold a key that signs Airflow tokens.

In Airflow 3 the scheduler signs each task's execution-API token (`BaseExecutor.jwt_generator`, with
`[api_auth] jwt_secret`) before it queues the workload; the api-server signs UI/API tokens with the same key and
validates both. The LocalExecutor's workers, forked from the scheduler, inherit its environment, and each task
is forked from a worker: every task held the secret and could mint tokens for any user, an admin included.
A worker only supervises tasks with tokens already signed (refreshed ones come from the api-server), so it
drops the signing keys from its environment before it takes any work; tasks and whatever they run (dbt,
Spark, a shell) inherit that environment. Used by the embedded stack and by compose's scheduler.

What this does not do: a task runs under the same OS account as the scheduler, so it can still read what
that account can (the state directory's secrets file, /proc of the scheduler). Separating those needs tasks
under another account (Airflow's run_as_user), see docs/security-stack.md.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import MutableMapping
from typing import Any

from airflow.executors import local_executor
from airflow.executors.local_executor import LocalExecutor

#: Configuration options (as AIRFLOW__SECTION__KEY) whose values sign Airflow tokens: API/UI and execution JWTs,
#: and the log-fetch tokens. Their _CMD and _SECRET forms are dropped with them.
SIGNING_KEY_OPTIONS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__WEBSERVER__SECRET_KEY",
                       "AIRFLOW__API_AUTH__JWT_PRIVATE_KEY_PATH")


def drop_signing_keys(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Remove every signing-key option (any form) from `environ` (default: this process's); returns their names."""
    environ = os.environ if environ is None else environ
    names = [n for n in list(environ) if n.upper().startswith(SIGNING_KEY_OPTIONS)]
    for name in names:
        del environ[name]
    return sorted(names)


#: Set to 1 (the embedded stack does) to have each worker parse the DAG folder once before it takes work.
WARM_UP_ENV = "RADIOLAKE_TASK_WARM_UP"


def warm_up(dags_folder: str | None = None) -> list[str]:
    """Parse the DAG folder in this worker, then forget the project's own modules; returns those forgotten.

    Each task is forked from a worker and parses its DAG file again. In a cold process that parse imports
    Airflow's task runner, Cosmos, astropy, boto3 and the rest the DAG files import, several CPU-seconds a
    task; a dbt model's task (ExecutionMode.WATCHER) does nothing else, and a pipeline run has ~50 of them
    on 2 cores. Forked from a warm worker, a task finds those libraries loaded and its parse is the DAG
    file's own code. The project's modules (the DAG files, plugins, `radiolake`) are dropped from
    `sys.modules` again, so every task still imports them fresh: an edit to them reaches the next task
    without a scheduler restart, as before (a library upgrade needs one). Errors are logged and ignored:
    the tasks then parse cold, as without the warm-up.
    """
    import sys
    from pathlib import Path

    import structlog

    log = structlog.get_logger(__name__)
    try:
        from airflow.dag_processing.dagbag import DagBag
        from airflow.sdk.execution_time import task_runner  # noqa: F401  (what every task runs)

        DagBag(dag_folder=dags_folder)  # the configured [core] dags_folder when None
    except Exception:  # noqa: BLE001  (a warm-up must never stop a worker)
        log.exception("task warm-up failed; tasks parse their DAG files cold")
    own = [Path(__file__).resolve().parent, *(Path(p).resolve() for p in filter(None, (
        os.environ.get("AIRFLOW__CORE__DAGS_FOLDER"), os.environ.get("AIRFLOW__CORE__PLUGINS_FOLDER"))))]
    forgotten = [name for name, module in list(sys.modules.items())
                 if (file := getattr(module, "__file__", None))
                 and any(Path(file).resolve().is_relative_to(folder) for folder in own)]
    for name in forgotten:
        del sys.modules[name]
    log.info("task warm-up done", forgotten=len(forgotten))
    return forgotten


def _run_worker_without_signing_keys(**kwargs: Any) -> None:
    drop_signing_keys()
    if os.environ.get(WARM_UP_ENV) == "1":
        warm_up()
    local_executor._run_worker(**kwargs)


class ScopedLocalExecutor(LocalExecutor):
    """LocalExecutor whose worker processes (and so every task) run without the token-signing keys."""

    def _spawn_worker(self) -> None:
        # LocalExecutor._spawn_worker, with the worker's entry point wrapped.
        p = multiprocessing.Process(
            target=_run_worker_without_signing_keys,
            kwargs={
                "logger_name": self.log.name,
                "input": self.activity_queue,
                "output": self.result_queue,
                "unread_messages": self._unread_messages,
                "team_conf": self.conf,
            },
        )
        p.start()
        assert p.pid is not None  # started
        self.workers[p.pid] = p
