"""The warehouse DAG end to end in-process (dag.test) against the stack: S3 results -> load -> one Airflow task
per dbt model, its tests after it (Astronomer Cosmos), and a failing dbt test that names its model's task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest

from radiolake.config import repo_root
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.run_params import dbt_check_runs_vars
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from radiolake.warehouse.sample_run import write_sample_run
from tests.integration.airflow_runs import not_successful, run_in_process, task_states

pytestmark = pytest.mark.integration

#: The watcher mode's task that runs the one `dbt build` (absent under RADIOLAKE_DBT_EXECUTION_MODE=local).
PRODUCER = "dbt.dbt_producer_watcher"
#: A model per layer, and the tests that follow them.
MODEL_TASKS = {f"dbt.{m}.{step}" for m in ("stg_pairs", "stg_stars", "int_best_matches", "radio_star_candidates",
                                           "survey_summary", "radio_stars") for step in ("run", "test")}


def asset_event_uris(dag_run) -> set[str]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return set(session.scalars(select(AssetModel.uri).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
                                   .where(AssetEvent.source_run_id == dag_run.run_id)))


def rendered_fields(dag_run) -> str:
    """Every rendered template field of the run's task instances (what the UI's Rendered Templates shows)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Rendered.rendered_fields).where(Rendered.dag_id == dag_run.dag_id,
                                                                      Rendered.run_id == dag_run.run_id))
        return " ".join(str(r) for r in rows)


@contextmanager
def prompt_retries(dag) -> Iterator[None]:
    """The DAG's tasks retry 1 s after a failure instead of its `retry_delay` (30 s), restored afterwards.

    `dag.test()` waits out a failed task's retry delay like the scheduler, idle: the tests check what a retry
    does (the build's retry is skipped, a model test's retry fails again), not how long it waits."""
    delays = {task.task_id: task.retry_delay for task in dag.tasks}
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=1)
    try:
        yield
    finally:
        for task in dag.tasks:
            task.retry_delay = delays[task.task_id]


@pytest.fixture(scope="module")
def warehouse_dag(stack):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(repo_root() / "dags" / "warehouse.py"))
    assert bag.import_errors == {}
    stack.airflow.wait_for_dag("warehouse", timeout=240)
    return bag.dags["warehouse"]


def test_warehouse_dag_runs_each_model_as_a_task_and_builds_marts(stack, warehouse_dag):
    settings = stack.settings
    ensure_buckets(settings)
    run_id = "it-dag-run"
    run = write_sample_run(f"{settings.bucket('xmatch')}/{run_id}", n_pairs=700, seed=41, run_id=run_id,
                           filesystem=arrow_fs(settings))

    order = [t.task_id for t in warehouse_dag.topological_sort()]
    assert order[0] == "load" and set(order) >= MODEL_TASKS
    for model in ("stg_pairs", "radio_star_candidates"):  # each model's tests run after it
        assert order.index(f"dbt.{model}.run") < order.index(f"dbt.{model}.test")
    assert order.index("dbt.stg_best.test") < order.index("dbt.int_best_matches.run")

    dag_run = run_in_process(warehouse_dag, {"run_id": run_id, "grade_b_min_probability": 0.7})
    assert dag_run.state == "success", not_successful(dag_run)
    states = task_states(dag_run)
    dbt_tasks = {t for t in states if t.startswith("dbt.")}
    assert dbt_tasks >= MODEL_TASKS and len(dbt_tasks) >= 30
    assert {states[t] for t in dbt_tasks} == {"success"}

    with psycopg.connect(stack.analyst_dsn) as conn:
        n_candidates = conn.execute("SELECT count(*) FROM marts.radio_star_candidates WHERE run_id = %s",
                                    (run_id,)).fetchone()[0]
        n_summary = conn.execute("SELECT count(*) FROM marts.survey_summary WHERE run_id = %s",
                                 (run_id,)).fetchone()[0]
        n_stars = conn.execute("SELECT count(*) FROM marts.radio_stars").fetchone()[0]
    assert n_candidates == run["n_best"]
    assert n_summary == 1 and n_stars > 0

    # Each model's task recorded its relation as an Asset named after the real warehouse (host and port of
    # the stack, not the profile's defaults); the password is in no task's rendered arguments.
    from cosmos import settings as cosmos_settings
    from psycopg.conninfo import conninfo_to_dict

    assert not cosmos_settings.enable_telemetry
    parts = conninfo_to_dict(settings.warehouse_dsn)
    where = f"postgres://{parts['host']}:{parts['port']}/{parts['dbname']}"
    assert f"{where}/marts/radio_star_candidates" in asset_event_uris(dag_run)
    rendered = rendered_fields(dag_run)
    assert parts["password"] not in rendered
    # The dbt tasks' tests checked the run this DAG run loaded (its load task's XCom), not every run kept.
    assert f"'RADIOLAKE_DBT_CHECK_RUNS': '[\"{run_id}\"]'" in rendered


def test_a_failing_dbt_test_fails_its_models_test_task_and_independent_models_still_run(stack, warehouse_dag,
                                                                                         tmp_path):
    """A run's radio source with a negative frequency (written into the warehouse behind the loader's checks)
    breaks stg_radio_sources' column checks (freq_mhz >= 0). A DAG run that loads another run checks that
    run and succeeds. One that checks the broken run (its load marked successful, as when it was loaded
    outside Airflow; the tests then check the run named by `run_id`) fails stg_radio_sources' test task by
    name; what reads stg_radio_sources does not run, and models that do not depend on it (stg_stars,
    stg_pairs, ...) are built and tested."""
    settings = stack.settings
    ensure_buckets(settings)
    bad, good = "it-dag-bad-freq", "it-dag-run-2"
    for run_id, seed in ((bad, 43), (good, 44)):
        write_sample_run(f"{settings.bucket('xmatch')}/{run_id}", n_pairs=300, seed=seed, run_id=run_id,
                         filesystem=arrow_fs(settings))
    load_run(f"s3://{settings.bucket('xmatch')}/{bad}", settings=settings)
    # Built before its rows are broken, so no incremental mart keeps a broken row after the test.
    dbt_runner.build(settings=settings, vars=dbt_check_runs_vars([bad]), work_dir=tmp_path)
    flip = "UPDATE load.radio_sources SET freq_mhz = -freq_mhz WHERE run_id = %s AND freq_mhz {} 0"
    with psycopg.connect(settings.warehouse_dsn, autocommit=True) as conn:
        assert conn.execute(flip.format(">"), (bad,)).rowcount > 0
    try:
        other_run = run_in_process(warehouse_dag, {"run_id": good})
        with prompt_retries(warehouse_dag):
            dag_run = run_in_process(warehouse_dag, {"run_id": bad}, mark_success_pattern="load")
    finally:  # the other tests see a clean warehouse again (staging models are views)
        with psycopg.connect(settings.warehouse_dsn, autocommit=True) as conn:
            conn.execute(flip.format("<"), (bad,))
    assert other_run.state == "success", not_successful(other_run)  # the broken rows are not its run's
    # Nor did a mart keep one (the incremental tests compare the marts with a full refresh).
    with psycopg.connect(settings.warehouse_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM intermediate.int_best_matches "
                            "WHERE freq_mhz < 0").fetchone() == (0,)
    assert f'["{good}"]' in rendered_fields(other_run) and f'["{bad}"]' in rendered_fields(dag_run)
    states = task_states(dag_run)
    assert dag_run.state == "failed"
    failed = {t for t, s in states.items() if s == "failed"}
    assert failed == {"dbt.stg_radio_sources.test"}, states
    # Under the watcher mode (the default) the task of the one `dbt build` failed, then its retry was skipped
    # (Cosmos runs no second build) and handed the statuses on to the model tasks.
    assert states.get(PRODUCER, "skipped") == "skipped"
    assert states["dbt.stg_radio_sources.run"] == "success"
    assert states["dbt.int_best_matches.run"] == "upstream_failed"
    # stg_pairs reads load.pairs only (dbt in layers, issue 26): built and tested like the other independents
    for independent in ("dbt.stg_stars.run", "dbt.stg_stars.test", "dbt.stg_offset_stats.run",
                        "dbt.stg_offset_stats.test", "dbt.stg_pairs.run"):
        assert states[independent] == "success", (independent, states[independent])
