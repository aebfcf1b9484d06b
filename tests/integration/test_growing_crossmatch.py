"""Cross-matches that grow (issue 22) on the real stack: object store, Spark, warehouse and dbt.

The Sydney Radio Star Catalogue (SRSC) grows region by region in the lake; Hipparcos 2 is the stellar
catalogue. After region 1's ingest a run matches it; after region 2's ingest (the catalogue grows, region 1's
files shared) the next run matches only region 2's new radio rows, and the marts then equal those after one
run over the union (EXCEPT both ways), but for the values a run measures over everything it read (the
association prior, the population shares of the stellar density: see RUN_MEASURED). A rerun changes nothing.
"""

from __future__ import annotations

import uuid

import pyarrow.compute as pc
import pytest

from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.run_params import CrossmatchParams
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from tests.integration.test_growing_marts import _frame, assert_same_rows

pytestmark = pytest.mark.integration

RADIO, STARS = "it_incr_srsc", "it_incr_hip2"
REGIONS = ("healpix:0:4", "healpix:0:5")
#: Mart columns that come from values a run measures over all it read (the association prior of its radio
#: sources, crossmatch.priors; a population's share of the stars it read, density.class_densities) and what
#: is graded or counted from them. A run over part of the sky measures them over that part.
RUN_MEASURED = ("probability", "p_chance", "grade", "secure", "evidence")


def _ingest(settings, survey: str, file, region: str, name: str):
    return ingest_survey(survey, path=file, region=region, name=name, settings=settings,
                         max_rows_per_partition=60)


def _run(settings, run_id: str, **options) -> dict:
    return crossmatch_run_params(CrossmatchParams(RADIO, STARS, radius_arcsec=10.0, n_sigma=None, offsets=4,
                                                  offset_arcmin=3.0, run_id=run_id, **options), master="local[2]")


def _snapshot(dsn: str, run_ids: list[str]) -> dict:
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        detections = _frame(cur, "SELECT * FROM marts.radio_star_detections WHERE run_id = ANY(%s) "
                                 "ORDER BY detection_key", (run_ids,))
        stars = _frame(cur, "SELECT * FROM marts.radio_stars WHERE star_id IN (SELECT physical_star_id FROM "
                            "marts.radio_star_detections WHERE run_id = ANY(%s)) ORDER BY star_id", (run_ids,))
    return {"radio_star_detections": detections, "radio_stars": stars}


def _science(snapshot: dict) -> dict:
    return {t: df.drop(columns=[c for c in df.columns if any(m in c for m in RUN_MEASURED)])
            for t, df in snapshot.items()}


def test_a_run_after_the_catalogue_grew_matches_only_the_new_region_and_the_marts_equal_a_union_run(
        stack, shared_data, tmp_path):
    settings = stack.settings
    ensure_buckets(settings)
    fs = arrow_fs(settings)
    for name in (RADIO, STARS):
        if cat.exists(fs, f"{settings.bucket('catalogs')}/{name}"):
            fs.delete_dir(f"{settings.bucket('catalogs')}/{name}")
    tag = uuid.uuid4().hex[:6]
    ids = {k: f"it-incr-{k}-{tag}" for k in ("r1", "r2", "union", "again")}
    build = lambda: dbt_runner.build(settings=settings, work_dir=tmp_path / "dbt", select=None)  # noqa: E731

    _ingest(settings, "hip2_csv", shared_data / "hip2_epoch1991.25.csv.gz", "healpix:0:4,5", STARS)
    srsc = shared_data / "SRSC_distances.csv"
    v1 = _ingest(settings, "srsc", srsc, REGIONS[0], RADIO).version
    first = _run(settings, ids["r1"])
    load_run(first["prefix"], settings=settings)
    v2 = _ingest(settings, "srsc", srsc, REGIONS[1], RADIO).version
    second = _run(settings, ids["r2"])
    load_run(second["prefix"], settings=settings)
    build()
    grown = _snapshot(settings.warehouse_dsn, [ids["r1"], ids["r2"]])

    # The second run read version 2 but matched only region 2's partitions (new since run 1 read version 1).
    inc = second["catalog_versions"]["radio"]["increment"]
    assert (inc["after_run"], inc["after_version"], second["catalog_versions"]["radio"]["version"]) == (
        ids["r1"], v1, v2)
    base = f"{settings.bucket('catalogs')}/{RADIO}"
    info = cat.open_catalog(fs, base, v2)
    region_2 = [p for p in info.partitions if p["pixel"] >> (2 * p["order"]) == 5]
    assert inc["new_partitions"] == inc["partitions"] == len(region_2) < len(info.partitions)
    healpix = cat.read_catalog(fs, base, columns=["healpix"], version=v2).column(0)
    n_region_2 = pc.sum(pc.equal(pc.shift_right(healpix, 58), 5)).as_py()
    assert second["n_radio"] + second["n_radio_quarantined"] == n_region_2 < len(healpix)
    assert all(5 << 58 <= lo < hi <= 6 << 58 for lo, hi in inc["footprint"]["ranges"])

    # One run over the union (everything matched again) supersedes both: the same detections and stars.
    union = _run(settings, ids["union"], only_new=False)
    assert union["n_radio"] == first["n_radio"] + second["n_radio"]
    assert union["n_pairs"] == first["n_pairs"] + second["n_pairs"] > 50
    load_run(union["prefix"], settings=settings)
    build()
    whole = _snapshot(settings.warehouse_dsn, [ids["union"]])
    assert len(whole["radio_star_detections"]) > 50
    assert_same_rows(_science(grown), _science(whole), "region by region vs one run over the union")

    # A rerun (nothing new: a whole run over the same rows) changes nothing, measured values included.
    again = _run(settings, ids["again"])
    assert "increment" not in again["catalog_versions"]["radio"] and again["n_pairs"] == union["n_pairs"]
    load_run(again["prefix"], settings=settings)
    build()
    assert_same_rows(_snapshot(settings.warehouse_dsn, [ids["again"]]), whole, "after a rerun")
