"""Warehouse DAG: load a cross-match run into Postgres, then build and test the dbt marts.

Scheduled on the cross-match results Asset (its event's extra names the run); can also be triggered by
hand with a run_id. Wiring only: the logic is in radiolake/warehouse/pipeline.py.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

XMATCH_RUNS = Asset("s3://xmatch/runs")

_cut = {"type": ["null", "number"], "minimum": 0}


@dag(
    dag_id="warehouse",
    schedule=[XMATCH_RUNS],
    catchup=False,
    max_active_runs=1,  # loads may overlap safely, but one dbt build at a time is simpler to follow
    tags=["radiolake", "warehouse"],
    params={
        "run_id": Param(None, type=["null", "string"], title="Run id",
                        description="Cross-match run to load (xmatch/<run_id>/); empty: the run(s) announced "
                                    "by the triggering Asset events."),
        **{name: Param(None, **_cut, description=text) for name, text in {
            "parallax_snr_min": "Parallax S/N needed for a distance (default 5).",
            "grade_a_min_probability": "Grade A: association probability at least (default 0.95).",
            "grade_a_min_parallax_snr": "Grade A: parallax S/N at least (default 5).",
            "grade_b_min_probability": "Grade B: association probability at least (default 0.8).",
        }.items()},
    },
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
)
def warehouse():
    @task
    def load(params=None, triggering_asset_events=None) -> list[dict]:
        from radiolake.warehouse.pipeline import load_task

        return load_task(params, triggering_asset_events)

    @task
    def dbt_build(loaded: list[dict], params=None) -> dict:
        from radiolake.warehouse.pipeline import dbt_build_task

        return dbt_build_task(params)

    dbt_build(load())


warehouse()
