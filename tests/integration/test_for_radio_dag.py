"""A user's ingest DAG run with `for_radio` set in the form, on the real embedded stack (S3 server + Airflow
metadata DB, dag.test() in this process): the stars land only over the radio catalogue's footprint.

The radio catalogue is the real RACS-low2 tile, ingested into the stack's lake. The stars come from a real HTTP
TAP server in this process serving real Gaia DR3 rows (tests/unit/ingest/gaia_tap.py). The DAG finds that
server the way a user's DAG finds an archive: through a survey definition, here a user definition in the
state directory ($RADIOLAKE_HOME/surveys) whose `source.url` is the server's 127.0.0.1 address, so the DAG
`ingest_<survey>` exists only while the file does."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets
from tests.integration.airflow_runs import not_successful, run_in_process

RADIO = "racs_tile_for_radio_dag"
SURVEY = "gaia_tap_for_radio_dag"


@pytest.mark.integration
def test_the_ingest_dag_fetches_stars_only_over_a_radio_catalogues_footprint(stack):
    from airflow.models.dagbag import DagBag

    from radiolake.config import repo_root, state_home
    from radiolake.ingest.footprint_fetch import fetched_cells, plan_footprint_fetch
    from radiolake.ingest.run import ingest_survey
    from radiolake.surveys import get_survey
    from tests.unit.ingest.conftest import DATA
    from tests.unit.ingest.gaia_tap import GaiaTap, cells_of, definition, load_gaia_rows

    ensure_buckets(stack.settings)
    fs, settings = arrow_fs(stack.settings), stack.settings
    lake = {"fs": fs, "catalogs_root": settings.bucket("catalogs"), "raw_root": settings.bucket("raw")}
    ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", name=RADIO, **lake)
    rows = load_gaia_rows()
    server = GaiaTap(rows)
    user_file = state_home() / "surveys" / f"{SURVEY}.yaml"
    user_file.parent.mkdir(parents=True, exist_ok=True)
    user_file.write_text(yaml.safe_dump({**definition(SURVEY, server.url),
                                         "source": {**definition(SURVEY, server.url)["source"], "page_size": 100}}))
    conf = {"for_radio": RADIO, "footprint_mode": "pixels", "fetch_radius_arcsec": 2.0}
    try:
        bag = DagBag(dag_folder=str(repo_root() / "dags" / "ingest.py"))
        assert not bag.import_errors, bag.import_errors
        dag = bag.get_dag(f"ingest_{SURVEY}")
        run = run_in_process(dag, conf)
        assert run.state == "success", not_successful(run)
        asked = len(server.good)
        assert _last_event_extra(f"s3://catalogs/{SURVEY}")["catalog"] == SURVEY
        again = run_in_process(dag, conf)  # the footprint is held: nothing fetched, nothing written
        assert again.state == "success", not_successful(again)
        boxed = run_in_process(dag, {**conf, "region": "cone:210,-19,1"})  # for_radio sets the sky itself
        assert boxed.state == "failed" and not_successful(boxed) == {"ingest": "failed"}
        assert len(server.good) == asked
        star_def = get_survey(SURVEY)
    finally:
        server.close()
        user_file.unlink()

    # the footprint of a 2-arcsec match (the form's radius), narrower than the default's
    plan = plan_footprint_fetch(star_def, fs, lake["catalogs_root"], RADIO, radius_arcsec=2.0)
    wide = plan_footprint_fetch(star_def, fs, lake["catalogs_root"], RADIO, radius_arcsec=30.0)
    footprint = plan.radio.cells
    assert plan.mode == "none" and footprint.sum() < wide.radio.cells.sum()
    base = f"{lake['catalogs_root']}/{SURVEY}"
    assert np.array_equal(fetched_cells(fs, base), footprint)  # the catalogue grew by exactly the footprint
    versions = cat.list_versions(fs, base)
    assert len(versions) == 1 and all(versions.values())  # the rerun wrote no version
    # the catalogue holds exactly the served stars inside the footprint, each once
    ids = np.array([int(s.split(":")[1]) for s in
                    cat.read_catalog(fs, base, columns=["source_id"]).column("source_id").to_pylist()])
    expected = np.asarray(rows["source_id"])[footprint[cells_of(rows["source_id"])]]
    assert 100 < len(expected) < len(rows)
    assert len(ids) == len(set(ids)) == cat.open_catalog(fs, base).n_rows and set(ids) == set(expected)
    # the fetch's records in the raw area of the lake: every unit complete, its pages stored beside it
    records = [json.loads(cat.read_text(fs, info.path)) for info in
               fs.get_file_info(_selector(f"{lake['raw_root']}/{SURVEY}"))
               if "/units/" in info.path and info.path.endswith(".json")]
    assert records and all(r["complete"] for r in records)
    assert sum(len(r["pages"]) for r in records) == asked
    assert all(cat.exists(fs, page["object"]) for r in records for page in r["pages"])


def _selector(base: str):
    import pyarrow.fs as pafs

    return pafs.FileSelector(base, recursive=True)


def _last_event_extra(uri: str) -> dict:
    """The extra of the newest event of an Asset in the stack's metadata database."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        event = session.scalars(select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                                .where(AssetModel.uri == uri).order_by(AssetEvent.id.desc())).first()
        assert event is not None, f"no event of {uri}"
        return dict(event.extra)
