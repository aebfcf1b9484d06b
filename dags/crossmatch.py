"""crossmatch: cross-match a radio catalogue against a stellar catalogue on Spark (form: catalogues, radius).

Results go to s3://xmatch/<run_id>/; the task's outlet `s3://xmatch/runs` gets an event whose extra names the
run ({"run_id", "prefix"}), which schedules the warehouse load. A retry reuses the run id and overwrites the
same folder, so it never leaves two copies. Wiring only: the work is radiolake.crossmatch.runner.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

from radiolake.crossmatch.pairs import DEFAULT_MAX_RADIUS_ARCSEC, DEFAULT_N_SIGMA
from radiolake.masking import mask_task_secrets
from radiolake.run_params import NAME_PATTERN
from radiolake.timeouts import task_timeout

XMATCH_RUNS = Asset("s3://xmatch/runs")


@dag(
    dag_id="crossmatch",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["crossmatch", "radiolake"],
    params={
        "radio": Param("racs_low", type="string", pattern=NAME_PATTERN, title="Radio catalogue (lake name)"),
        "stars": Param("gaia_dr3", type="string", pattern=NAME_PATTERN, title="Stellar catalogue (lake name)"),
        "radius_arcsec": Param(
            DEFAULT_MAX_RADIUS_ARCSEC,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=3600,
            title="Match radius (arcsec)",
            description="With n sigma: the cap of the n-sigma search. Without: a fixed radius. Empty: uncapped.",
        ),
        "n_sigma": Param(
            DEFAULT_N_SIGMA,
            type=["null", "number"],
            exclusiveMinimum=0,
            title="n sigma",
            description="Match within n sigma of the combined error (radio with its survey floor, star moved to "
                        "the radio epoch). Empty: the fixed radius only.",
        ),
        "offsets": Param(8, type="integer", minimum=0, maximum=64, title="Offset skies (false-match rate)"),
        "offset_arcmin": Param(3.0, type="number", exclusiveMinimum=0, title="Offset size (arcmin)"),
        "k_nearest": Param(None, type=["null", "integer"], minimum=1, title="Keep k nearest per source"),
    },
    doc_md=__doc__,
)
def crossmatch():
    @task(outlets=[XMATCH_RUNS], retries=2, retry_delay=timedelta(seconds=30),
          execution_timeout=task_timeout("crossmatch"), on_execute_callback=mask_task_secrets)
    def run_crossmatch(params=None, run_id=None, outlet_events=None) -> dict:
        from radiolake.crossmatch.runner import crossmatch_run, safe_run_id

        if params.get("radius_arcsec") is None and params.get("n_sigma") is None:
            raise ValueError("give radius_arcsec, n_sigma or both")
        summary = crossmatch_run(
            params["radio"],
            params["stars"],
            radius_arcsec=params.get("radius_arcsec"),
            n_sigma=params.get("n_sigma"),
            offsets=params["offsets"],
            offset_arcmin=params["offset_arcmin"],
            k_nearest=params.get("k_nearest"),
            run_id=safe_run_id(run_id),
        )
        outlet_events[XMATCH_RUNS].extra = {"run_id": summary["run_id"], "prefix": summary["prefix"]}
        return {k: v for k, v in summary.items() if k != "stats"}

    run_crossmatch()


crossmatch()
