"""The crossmatch DAG with dag.test() on the embedded stack: lake catalogues in, results + Asset event out."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radiolake.config import repo_root
from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.runner import safe_run_id
from radiolake.lake import arrow_fs, ensure_buckets, get_bytes
from tests.integration.airflow_runs import not_successful, run_in_process
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky

pytestmark = pytest.mark.integration


def put_catalogue(fs, bucket: str, name: str, df) -> None:
    """A HATS-like catalogue (one file per order-3 pixel) under s3://<bucket>/<name>/."""
    pix = df["healpix"].to_numpy() >> (2 * (29 - 3))
    for p in sorted(set(pix.tolist())):
        table = pa.Table.from_pandas(df[pix == p], preserve_index=False)
        pq.write_table(table, f"{bucket}/{name}/Norder=3/Dir=0/Npix={p}.parquet", filesystem=fs)


def test_crossmatch_dag_writes_results_and_announces_the_run(stack):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    settings = stack.settings
    ensure_buckets(settings)
    fs = arrow_fs(settings)
    radio, stars = make_sky(21, "ra0", 150, 300, 60.0, 0.02)
    put_catalogue(fs, settings.bucket("catalogs"), "it_xm_radio", radio)
    put_catalogue(fs, settings.bucket("catalogs"), "it_xm_stars", stars)

    bag = DagBag(dag_folder=str(repo_root() / "dags" / "crossmatch.py"))
    assert bag.import_errors == {}
    dag = bag.dags["crossmatch"]
    conf = {
        "radio": "it_xm_radio",
        "stars": "it_xm_stars",
        "radius_arcsec": 6.0,
        "n_sigma": None,
        "offsets": 4,
        "offset_arcmin": 2.0,
        "k_nearest": None,
    }
    dag_run = run_in_process(dag, conf)
    assert dag_run.state == "success", not_successful(dag_run)

    run_id = safe_run_id(dag_run.run_id)
    xmatch = settings.bucket("xmatch")
    run = json.loads(get_bytes(xmatch, f"{run_id}/run.json"))
    pairs = pq.read_table(f"{xmatch}/{run_id}/pairs", filesystem=fs).to_pandas()
    ref = crossmatch_frames(radio, stars, 6.0, n_offsets=4, offset_arcmin=2.0)["pairs"]
    assert set(zip(pairs.radio_id, pairs.star_id, strict=True)) == set(zip(ref.radio_id, ref.star_id, strict=True))
    assert run["n_pairs"] == len(pairs) > 0 and run["radio_catalog"] == "it_xm_radio"

    with create_session() as session:
        event = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.uri == "s3://xmatch/runs")
            .order_by(AssetEvent.id.desc())
        ).first()
        assert event is not None
        assert event.extra["run_id"] == run_id
        assert event.extra["prefix"] == f"s3://{xmatch}/{run_id}"
