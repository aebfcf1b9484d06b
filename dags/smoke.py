"""radiolake_smoke: one task per part of the stack (object store, warehouse, Spark). Wiring only."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from radiolake.masking import mask_task_secrets
from radiolake.timeouts import task_timeout


@dag(
    dag_id="radiolake_smoke",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["radiolake", "smoke"],
    default_args={"on_execute_callback": mask_task_secrets,
                  "retries": 1, "retry_delay": timedelta(seconds=10), "retry_exponential_backoff": True,
                  "execution_timeout": task_timeout("smoke")},
    doc_md=__doc__,
)
def radiolake_smoke():
    @task
    def object_store(run_id: str | None = None) -> dict:
        from radiolake.app.smoke import object_store_round_trip, task_env_check

        return {**object_store_round_trip(_key(run_id)), **task_env_check()}

    @task
    def warehouse(run_id: str | None = None) -> dict:
        from radiolake.app.smoke import warehouse_round_trip

        return warehouse_round_trip(_key(run_id))

    @task
    def spark(run_id: str | None = None) -> dict:
        from radiolake.app.smoke import spark_round_trip

        return spark_round_trip(_key(run_id))

    object_store() >> warehouse() >> spark()


def _key(run_id: str | None) -> str:
    """Object keys and table keys from the Airflow run id (safe characters only)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in (run_id or "manual"))


radiolake_smoke()
