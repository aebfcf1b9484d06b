"""crossmatch: cross-match a radio catalogue against a stellar catalogue on Spark (form: catalogues, radius).

Results go to s3://xmatch/<run_id>/; the task's outlet `s3://xmatch/runs` gets an event whose extra names the
run ({"run_id", "prefix"}), which schedules the warehouse load. A retry reuses the run id and overwrites the
same folder, so it never leaves two copies. Wiring only: the work is radiolake.crossmatch.runner.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from radiolake.assets import XMATCH_RUNS
from radiolake.masking import mask_task_secrets
from radiolake.run_param_surfaces import airflow_params
from radiolake.timeouts import task_timeout


@dag(
    dag_id="crossmatch",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["crossmatch", "radiolake"],
    params=airflow_params("crossmatch_dag"),
    doc_md=__doc__,
)
def crossmatch():
    @task(outlets=[XMATCH_RUNS], retries=2, retry_delay=timedelta(seconds=30),
          execution_timeout=task_timeout("crossmatch"), on_execute_callback=mask_task_secrets)
    def run_crossmatch(params=None, run_id=None, outlet_events=None) -> dict:
        from airflow.sdk.exceptions import AirflowFailException

        from radiolake.crossmatch.runner import crossmatch_run_params, safe_run_id
        from radiolake.run_params import CrossmatchParams, RunParamError

        try:  # checked in Python too (typed, bounded), naming a bad value; a retry would read the same
            checked = CrossmatchParams.from_values("crossmatch_dag", params, run_id=safe_run_id(run_id))
        except RunParamError as exc:
            raise AirflowFailException(f"crossmatch refused: {exc}") from exc
        summary = crossmatch_run_params(checked)
        outlet_events[XMATCH_RUNS].extra = {"run_id": summary["run_id"], "prefix": summary["prefix"]}
        return {k: v for k, v in summary.items() if k != "stats"}

    run_crossmatch()


crossmatch()
