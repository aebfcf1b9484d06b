"""In-process DAG runs (`dag.test()`) beside the stack's own Airflow, and what the tests read back from them.

`dag.test()` writes its run to the stack's metadata database as a running DagRun. If the DAG is unpaused (the
e2e tests unpause the DAGs they trigger from the UI), the stack's scheduler takes that run too and queues its
scheduled tasks to its executor while `dag.test()` runs them itself: the same dbt node or load twice at once,
which fails one of them now and then. `run_in_process` pauses the DAG for the run, so only `dag.test()` runs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


def is_paused(dag_id: str) -> bool | None:
    """The DAG's pause flag in the metadata database (None: the DAG was never parsed into it)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(select(DagModel.is_paused).where(DagModel.dag_id == dag_id))


def run_in_process(dag: Any, run_conf: dict[str, Any], **test_args: Any) -> Any:
    """`dag.test(run_conf=..., **test_args)` with the DAG paused meanwhile (see the module docstring); its
    pause flag is restored afterwards. Returns the DagRun."""
    before = is_paused(dag.dag_id)
    set_paused(dag.dag_id, True)
    try:
        return dag.test(run_conf=run_conf, **test_args)
    finally:
        if before is not None:
            set_paused(dag.dag_id, before)


def task_states(dag_run: Any) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(select(TaskInstance.task_id, TaskInstance.state).where(
            TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)).all()
    return {task_id: str(state) for task_id, state in rows}


def not_successful(dag_run: Any) -> dict[str, str]:
    """Tasks of the run that did not succeed, with their states: what an assertion message should name."""
    return {task_id: state for task_id, state in task_states(dag_run).items() if state != "success"}


def executor_task_logs(airflow_home: Path, dag_run: Any) -> list[str]:
    """Task log files the stack's executor wrote for `dag_run` (`dag.test()` writes none: it logs in-process).
    Before `run_in_process`, an unpaused DAG's in-process runs had some of their tasks here, with "TI is
    already running elsewhere" failures."""
    folder = airflow_home / "logs" / f"dag_id={dag_run.dag_id}" / f"run_id={dag_run.run_id}"
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.log")) if folder.exists() else []
