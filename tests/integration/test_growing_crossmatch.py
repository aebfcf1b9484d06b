"""Cross-matches that grow (issue 22) on the real stack: object store, Spark, warehouse and dbt.

The Sydney Radio Star Catalogue (SRSC) and Hipparcos 2 grow region by region in the lake, as the pipeline
ingests them (both catalogues over each region). After each region's ingests a run matches only what is new:
the region's radio rows and those next to its new stars, and carries the earlier regions on, re-scored with
the association prior of the catalogue so far (crossmatch.carry). With a second epoch of the survey (its own
catalogue), the marts after the three regional runs equal those after one run over the union (EXCEPT both
ways, every column: probabilities and grades too); the second epoch adds a detection to every star; a rerun
of everything or of one region changes nothing.
"""

from __future__ import annotations

import dataclasses
import uuid

import numpy as np
import psycopg
import pytest

from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.run_params import CrossmatchParams, epoch_catalog
from radiolake.surveys import get_survey
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from radiolake.warehouse.partitions import drop_run_partitions
from radiolake.warehouse.tables import LOAD_TABLES
from tests.integration.test_growing_marts import _frame, assert_same_rows

pytestmark = pytest.mark.integration

#: The surveys under names of their own: their raw files, catalogues, ids and marts rows are this test's.
RADIO, STARS = "it_incr_srsc", "it_incr_hip2"
EPOCH = "e2"
REGIONS = ("healpix:0:4", "healpix:0:5", "healpix:0:6")


def _definitions():
    radio, stars = get_survey("srsc"), get_survey("hip2_csv")
    return {RADIO: dataclasses.replace(radio, name=RADIO, id_prefix=RADIO),
            epoch_catalog(RADIO, EPOCH): dataclasses.replace(radio, name=RADIO, id_prefix=f"{RADIO}_{EPOCH}"),
            STARS: dataclasses.replace(stars, name=STARS, id_prefix=STARS)}


def _ingest(settings, definitions, name: str, file, region: str) -> str:
    return ingest_survey(definitions[name], path=file, region=region, name=name, settings=settings,
                         max_rows_per_partition=60).version


def _run(radio: str, run_id: str, **options) -> dict:
    return crossmatch_run_params(CrossmatchParams(radio, STARS, radius_arcsec=10.0, n_sigma=None, offsets=4,
                                                  offset_arcmin=3.0, run_id=run_id, **options), master="local[2]")


def _snapshot(dsn: str, run_ids: list[str]) -> dict:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        detections = _frame(cur, "SELECT * FROM marts.radio_star_detections WHERE run_id = ANY(%s) "
                                 "ORDER BY detection_key", (run_ids,))
        stars = _frame(cur, "SELECT * FROM marts.radio_stars WHERE star_id IN (SELECT physical_star_id FROM "
                            "marts.radio_star_detections WHERE run_id = ANY(%s)) ORDER BY star_id", (run_ids,))
    return {"radio_star_detections": detections, "radio_stars": stars}


def _inside(run: dict, healpix: np.ndarray) -> np.ndarray:
    """Which of these rows lie in the run's footprint (the regions its increment matched)."""
    lo_hi = np.array(run["catalog_versions"]["radio"]["increment"]["footprint"]["ranges"], np.int64)
    return ((healpix[:, None] >= lo_hi[:, 0]) & (healpix[:, None] < lo_hi[:, 1])).any(axis=1)


def _drop_runs(dsn: str, run_ids: list[str]) -> None:
    with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
        for run_id in run_ids:
            for table in LOAD_TABLES:
                drop_run_partitions(cur, table.name, run_id)
            cur.execute("DELETE FROM load.runs WHERE run_id = %s", (run_id,))


def test_runs_after_the_catalogues_grew_match_only_what_is_new_and_the_marts_equal_a_union_run(
        stack, shared_data, tmp_path):
    settings = stack.settings
    ensure_buckets(settings)
    fs, definitions = arrow_fs(settings), _definitions()
    for name in definitions:
        if cat.exists(fs, f"{settings.bucket('catalogs')}/{name}"):
            fs.delete_dir(f"{settings.bucket('catalogs')}/{name}")
    tag = uuid.uuid4().hex[:6]
    ids = {k: f"it-incr-{k}-{tag}" for k in ("r1", "r2", "r3", EPOCH, "union", "again", "region")}
    srsc, hip2 = shared_data / "SRSC_distances.csv", shared_data / "hip2_epoch1991.25.csv.gz"
    base = f"{settings.bucket('catalogs')}/{RADIO}"
    build = lambda: dbt_runner.build(settings=settings, work_dir=tmp_path / "dbt", select=None)  # noqa: E731

    try:
        runs, versions = [], []
        for k, region in enumerate(REGIONS):  # as the pipeline does: both catalogues grow by the region
            _ingest(settings, definitions, STARS, hip2, region)
            versions.append(_ingest(settings, definitions, RADIO, srsc, region))
            runs.append(_run(RADIO, ids[f"r{k + 1}"]))
            load_run(runs[-1]["prefix"], settings=settings)
        assert "increment" not in runs[0]["catalog_versions"]["radio"]
        for k in (1, 2):  # matched: the region's new rows, the rows next to its new stars, nothing else
            run, inc = runs[k], runs[k]["catalog_versions"]["radio"]["increment"]
            assert (inc["after_run"], inc["after_version"]) == (ids[f"r{k}"], versions[k - 1])
            assert inc["new_partitions"] > 0 and inc["new_star_partitions"] > 0 and inc["gone_partitions"] == 0
            healpix = cat.read_catalog(fs, base, columns=["healpix"], version=versions[k]).column(0).to_numpy()
            inside = _inside(run, healpix)
            assert inside[healpix >> 58 == 4 + k].all()  # every row of the new region
            assert run["n_radio"] + run["n_radio_quarantined"] == inside.sum() < healpix.size  # and no more

        _ingest(settings, definitions, epoch_catalog(RADIO, EPOCH), srsc, "healpix:0:4,5,6")
        second_epoch = _run(epoch_catalog(RADIO, EPOCH), ids[EPOCH])
        load_run(second_epoch["prefix"], settings=settings)
        build()
        grown = _snapshot(settings.warehouse_dsn, [ids["r1"], ids["r2"], ids["r3"], ids[EPOCH]])
        # the second epoch (the same rows again, under its own ids) adds a light-curve point to every star
        detections = grown["radio_star_detections"]
        per_star = detections.assign(e2=detections["radio_id"].str.startswith(f"{RADIO}_{EPOCH}:")).groupby(
            "physical_star_id")["e2"].agg(["sum", "count"])
        assert len(per_star) > 30 and (per_star["sum"] > 0).all() and (2 * per_star["sum"] == per_star["count"]).all()

        union = _run(RADIO, ids["union"], only_new=False)  # one run over the union supersedes r1-r3
        assert "increment" not in union["catalog_versions"]["radio"]
        assert union["n_radio"] == second_epoch["n_radio"] and union["n_pairs"] == second_epoch["n_pairs"] > 50
        load_run(union["prefix"], settings=settings)
        build()
        whole = _snapshot(settings.warehouse_dsn, [ids["union"], ids[EPOCH]])
        assert len(whole["radio_star_detections"]) == len(detections)
        assert_same_rows(grown, whole, "region by region vs one run over the union")

        again = _run(RADIO, ids["again"])  # nothing new: a whole run over the same rows changes nothing
        assert "increment" not in again["catalog_versions"]["radio"] and again["n_pairs"] == union["n_pairs"]
        load_run(again["prefix"], settings=settings)
        build()
        assert_same_rows(_snapshot(settings.warehouse_dsn, [ids["again"], ids[EPOCH]]), whole, "after a rerun")
        region = _run(RADIO, ids["region"], only_new=False, region=REGIONS[1])  # a region again, the rest carried
        assert region["catalog_versions"]["radio"]["increment"]["carried_from"] == ids["again"]
        load_run(region["prefix"], settings=settings)
        build()
        assert_same_rows(_snapshot(settings.warehouse_dsn, [ids["region"], ids[EPOCH]]), whole,
                         "after a rerun of region 2")
    finally:
        _drop_runs(settings.warehouse_dsn, list(ids.values()))
