"""Ingest DAGs: one per survey definition (`ingest_<survey>`), each producing its catalogue's Asset.

One DAG per survey rather than one parameterised DAG: an Airflow outlet is declared statically and every
declared outlet gets an event when the task succeeds, so a single DAG with outlets for all catalogues would
wake every downstream cross-match on each ingest. Per-survey DAGs emit exactly `s3://catalogs/<survey>`.
Wiring only: the work is `radiolake.ingest.run.ingest_survey`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, Param, dag, task

from radiolake.masking import mask_task_secrets
from radiolake.surveys import load_registry
from radiolake.timeouts import task_timeout


def make_ingest_dag(survey: str, description: str):
    asset = Asset(f"s3://catalogs/{survey}")

    @dag(
        dag_id=f"ingest_{survey}",
        schedule=None,
        catchup=False,
        max_active_runs=1,
        description=description,
        tags=["ingest", "radiolake"],
        params={
            "region": Param(
                "all",
                type="string",
                title="Region",
                description="all | cone:RA,DEC,RADIUS | box:RA1,RA2,DEC1,DEC2 | healpix:ORDER:PIX,...",
            ),
            "rows": Param(
                None, type=["null", "integer"], minimum=1, title="Rows (synthetic: number of stars)"
            ),
            "seed": Param(None, type=["null", "integer"], title="Seed (synthetic)"),
            # null-able so the UI form does not mark it required
            "path": Param(None, type=["null", "string"], title="Local file (file surveys; else the survey's source)",
                  description="A file in the imports folder (<state dir>/imports, or RADIOLAKE_IMPORT_DIRS); "
                              "a relative name is taken inside the imports folder."),
            "max_bad_fraction": Param(
                None, type=["null", "number"], minimum=0, maximum=1, title="Max share of rejected rows"
            ),
            "allow_large_fetch": Param(
                False, type="boolean", title="Allow a large fetch",
                description="Fetch even above RADIOLAKE_INGEST_MAX_ROWS rows (default 10 million), or the whole "
                            "sky of a table of unknown size. Without it such a fetch fails at once, naming its "
                            "estimated rows and bytes.",
            ),
        },
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

            from radiolake.import_paths import ImportPathError, open_import_file
            from radiolake.ingest.run import IngestError, ingest_survey
            from radiolake.run_params import warn_unknown

            warn_unknown(params, dag.params.keys(), f"ingest_{survey}")
            path = None
            try:
                # opened and checked before anything is read or stored (only files in the allowed import
                # folders); the ingest reads that descriptor, never the name again
                path = open_import_file(params["path"]) if params.get("path") else None
                result = ingest_survey(
                    survey,
                    region=params["region"],
                    rows=params.get("rows"),
                    seed=params.get("seed"),
                    path=path,
                    max_bad_fraction=params.get("max_bad_fraction"),
                    allow_large_fetch=bool(params.get("allow_large_fetch")),
                )
            except (IngestError, ImportPathError) as exc:  # bad input: a retry reads the same; fail now, fix, clear
                raise AirflowFailException(str(exc)) from exc
            finally:
                if path is not None:
                    path.close()
            outlet_events[asset].extra = {
                "version": result.version,
                "rows": result.n_rows,
                "path": result.catalog_path,
            }
            return result.summary()

        ingest()

    return ingest_dag()


for _name, _definition in load_registry().items():
    globals()[f"ingest_{_name}"] = make_ingest_dag(_name, _definition.title)
