"""The ingest DAG run with dag.test() against the real embedded stack (S3 gateway + Airflow metadata DB)."""

from __future__ import annotations

import pytest

from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets
from tests.integration.airflow_runs import not_successful, run_in_process


@pytest.mark.integration
def test_ingest_dag_writes_catalogue_to_lake_and_reruns_idempotently(stack):
    from airflow.models.dagbag import DagBag

    from radiolake.config import repo_root

    ensure_buckets(stack.settings)
    bag = DagBag(dag_folder=str(repo_root() / "dags" / "ingest.py"))
    assert not bag.import_errors, bag.import_errors
    dag = bag.get_dag("ingest_synthetic_radio")
    conf = {"region": "cone:120,-40,15", "rows": 3000, "seed": 11, "path": "", "max_bad_fraction": None}
    run = run_in_process(dag, conf)
    assert run.state == "success", not_successful(run)
    fs = arrow_fs(stack.settings)
    base = f"{stack.settings.bucket('catalogs')}/synthetic_radio"
    info = cat.open_catalog(fs, base)
    assert (
        info.n_rows
        == info.metadata["provenance"]["synthetic"]["n_radio_background"]
        + info.metadata["provenance"]["synthetic"]["n_radio_stars"]
    )
    assert sum(p["rows"] for p in info.partitions) == info.n_rows
    assert cat.exists(fs, f"{info.path}/truth.parquet")
    versions = cat.list_versions(fs, base)  # other tests may have ingested this survey with other params
    assert versions[info.version] is True
    second = run_in_process(dag, conf)
    assert second.state == "success", not_successful(second)
    assert cat.list_versions(fs, base) == versions  # same input → the same catalogue, not two
    assert cat.open_catalog(fs, base).version == info.version
