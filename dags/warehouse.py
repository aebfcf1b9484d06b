"""Warehouse DAG: load a cross-match run into Postgres, then build and test the dbt marts, one task per model.

Scheduled on the cross-match results Asset (its event's extra names the run); can also be triggered by
hand with a run_id. The dbt project runs as the task group `dbt` (`dbt.<model>.run`, then
`dbt.<model>.test`). Wiring only: the logic is in radiolake/warehouse/steps.py and dbt_airflow.py.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from radiolake.assets import XMATCH_RUNS
from radiolake.masking import mask_task_secrets
from radiolake.run_param_surfaces import airflow_params
from radiolake.timeouts import task_timeout
from radiolake.warehouse.dbt_airflow import MACROS, dbt_task_group


@dag(
    dag_id="warehouse",
    schedule=[XMATCH_RUNS],
    catchup=False,
    max_active_runs=1,  # loads may overlap safely, but one dbt build at a time is simpler to follow
    tags=["radiolake", "warehouse"],
    user_defined_macros=MACROS,  # the dbt tasks' --vars (the run's cuts) and checked runs, validated
    params=airflow_params("warehouse_dag"),
    default_args={"on_execute_callback": mask_task_secrets, "retries": 1, "retry_delay": timedelta(seconds=30)},
)
def warehouse():
    @task(execution_timeout=task_timeout("load"))
    def load(params=None, triggering_asset_events=None, dag=None) -> list[dict]:
        from airflow.sdk.exceptions import AirflowFailException

        from radiolake.run_params import RunParamError, warn_unknown
        from radiolake.warehouse.steps import load_task

        warn_unknown(params, dag.params.keys(), "warehouse")
        try:  # the run conf and the Asset event extras are checked before any run is loaded
            return load_task(params, triggering_asset_events)
        except RunParamError as exc:  # bad input: a retry reads the same; fail now, naming it
            raise AirflowFailException(f"warehouse load refused: {exc}") from exc

    dbt_task_group(upstream=load())


warehouse()
