"""radiolake_pipeline: ingest radio + stars → cross-match → load → dbt models → report, from one form.

Trigger it from the UI (Trigger → the form below) or the REST API with a `conf`. The same steps also run
as separate DAGs chained by Assets (ingest_* → crossmatch → warehouse); this DAG runs them in one place so
a user sees the whole run, and its failure names the failed step. The dbt project runs as the task group
`dbt`: one task per model, its tests after it (`dbt.<model>.run`, `dbt.<model>.test`); Clear on one of them
reruns that model alone. Its only Asset events are the marts' (postgres:// Assets that Cosmos emits for
lineage, which no DAG is scheduled on), so it never wakes the separate DAGs. Wiring only: the steps are
radiolake.app.pipeline and radiolake.warehouse.dbt_airflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from radiolake.masking import mask_task_secrets
from radiolake.run_param_surfaces import airflow_params
from radiolake.timeouts import task_timeout
from radiolake.warehouse.dbt_airflow import MACROS, dbt_task_group


@dag(
    dag_id="radiolake_pipeline",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["radiolake", "pipeline"],
    user_defined_macros=MACROS,  # the dbt tasks' --vars (the run's cuts) and checked runs, validated
    default_args={"on_execute_callback": mask_task_secrets,
                  "retries": 2, "retry_delay": timedelta(seconds=20), "retry_exponential_backoff": True,
                  "max_retry_delay": timedelta(minutes=5)},
    params=airflow_params("pipeline"),
    doc_md=__doc__,
)
def radiolake_pipeline():
    @task(execution_timeout=task_timeout("ingest"))
    def ingest_radio(params=None, dag=None) -> dict:
        from radiolake.run_params import warn_unknown

        warn_unknown(params, dag.params.keys(), "radiolake_pipeline")
        return _ingest("radio", params)

    @task(execution_timeout=task_timeout("ingest"))
    def ingest_stars(params=None) -> dict:
        return _ingest("stars", params)

    @task(execution_timeout=task_timeout("crossmatch"))
    def crossmatch(radio: dict, stars: dict, params=None, run_id=None) -> dict:
        from radiolake.app.pipeline import crossmatch_step

        return crossmatch_step(radio, stars, params, run_id)

    @task(execution_timeout=task_timeout("load"))
    def load(xmatch: dict) -> dict:
        from radiolake.app.pipeline import load_step

        return load_step(xmatch)

    @task(execution_timeout=task_timeout("report"))
    def report(radio: dict, stars: dict, xmatch: dict, params=None) -> dict:
        from radiolake.app.pipeline import report_step

        return report_step(radio, stars, xmatch, params)

    radio, stars = ingest_radio(), ingest_stars()
    xmatch = crossmatch(radio, stars)
    dbt_task_group(upstream=load(xmatch)) >> report(radio, stars, xmatch)


def _ingest(role: str, params) -> dict:
    """Bad input fails the task at once (a retry would read the same file); other errors are retried."""
    from airflow.sdk.exceptions import AirflowFailException

    from radiolake.app.pipeline import BadInputError, ingest_step

    try:
        return ingest_step(role, params)
    except BadInputError as exc:
        raise AirflowFailException(str(exc)) from exc


radiolake_pipeline()
