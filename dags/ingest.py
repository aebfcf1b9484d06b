"""Ingest DAGs: one per survey definition (`ingest_<survey>`), each producing its catalogue's Asset.

One DAG per survey rather than one parameterised DAG: an Airflow outlet is declared statically and every
declared outlet gets an event when the task succeeds, so a single DAG with outlets for all catalogues would
wake every downstream cross-match on each ingest. Per-survey DAGs emit exactly `s3://catalogs/<survey>`.
Wiring only: the work is `radiolake.ingest.run.ingest_survey`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from radiolake.assets import catalog_asset
from radiolake.masking import mask_task_secrets
from radiolake.run_param_surfaces import airflow_params
from radiolake.surveys import load_registry
from radiolake.timeouts import task_timeout


def make_ingest_dag(survey: str, description: str):
    asset = catalog_asset(survey)

    @dag(
        dag_id=f"ingest_{survey}",
        schedule=None,
        catchup=False,
        max_active_runs=1,
        description=description,
        tags=["ingest", "radiolake"],
        params=airflow_params("ingest_dag"),
        doc_md=__doc__,
    )
    def ingest_dag():
        @task(
            outlets=[asset],
            retries=3,
            retry_delay=timedelta(seconds=30),
            retry_exponential_backoff=True,
            max_retry_delay=timedelta(minutes=10),
            execution_timeout=task_timeout("ingest"),
            on_execute_callback=mask_task_secrets,
        )
        def ingest(params=None, outlet_events=None, dag=None) -> dict:
            from airflow.sdk.exceptions import AirflowFailException

            from radiolake.app.pipeline import BadInputError, ingest_survey_step
            from radiolake.run_params import IngestParams, RunParamError, warn_unknown

            warn_unknown(params, dag.params.keys(), f"ingest_{survey}")
            try:  # bad input: a retry reads the same; fail now, fix, clear
                summary = ingest_survey_step(survey, IngestParams.from_values("ingest_dag", params),
                                             f"ingest_{survey}")
            except (BadInputError, RunParamError) as exc:
                raise AirflowFailException(str(exc)) from exc
            # the catalogue written: the survey's own, or <survey>_near_<radio> for a for_radio upload fetch
            outlet_events[asset].extra = {k: summary[k] for k in ("catalog", "version", "rows", "path")}
            return summary

        ingest()

    return ingest_dag()


for _name, _definition in load_registry().items():
    globals()[f"ingest_{_name}"] = make_ingest_dag(_name, _definition.title)
