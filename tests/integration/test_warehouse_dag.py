"""The warehouse DAG end to end in-process (dag.test) against the stack: S3 results -> load -> dbt build."""

from __future__ import annotations

import psycopg
import pytest

from radiolake.config import repo_root
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.warehouse.sample_run import write_sample_run

pytestmark = pytest.mark.integration


def set_paused(dag_id: str, paused: bool) -> None:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import update

    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == dag_id).values(is_paused=paused))


def test_warehouse_dag_loads_run_and_builds_marts(stack):
    from airflow.dag_processing.dagbag import DagBag

    settings = stack.settings
    ensure_buckets(settings)
    run_id = "it-dag-run"
    run = write_sample_run(f"{settings.bucket('xmatch')}/{run_id}", n_pairs=700, seed=41, run_id=run_id,
                           filesystem=arrow_fs(settings))

    bag = DagBag(dag_folder=str(repo_root() / "dags" / "warehouse.py"))
    assert bag.import_errors == {}
    dag = bag.dags["warehouse"]
    assert [t.task_id for t in dag.topological_sort()] == ["load", "dbt_build"]
    # The stack's own scheduler also runs this (unpaused) DAG: pause it so it leaves dag.test's run alone.
    stack.airflow.wait_for_dag("warehouse", timeout=240)
    set_paused("warehouse", True)
    try:
        dag_run = dag.test(run_conf={"run_id": run_id})
    finally:
        set_paused("warehouse", False)
    assert dag_run.state == "success"

    with psycopg.connect(stack.analyst_dsn) as conn:
        n_candidates = conn.execute("SELECT count(*) FROM marts.radio_star_candidates WHERE run_id = %s",
                                    (run_id,)).fetchone()[0]
    assert n_candidates == run["n_best"]
