"""End to end in a real browser: trigger the whole pipeline from the Airflow UI form, then check the marts and
the buckets as a user would (SQL as the read-only analyst, objects in the reports bucket)."""

from __future__ import annotations

import psycopg
import pytest

from radiolake import lake
from radiolake.crossmatch.runner import safe_run_id
from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.pipeline import truth_scores
from tests.e2e import airflow_ui as ui

DAG_ID = "radiolake_pipeline"


@pytest.mark.e2e
def test_pipeline_from_the_form_to_the_marts_and_the_reports(stack, logged_in):
    ensure_buckets(stack.settings)
    stack.airflow.wait_for_dag(DAG_ID, timeout=180)
    ui.ensure_unpaused(stack.airflow, DAG_ID)
    rows = 6000  # not the form's default (20000)
    shot = logged_in.screenshot
    airflow_run = ui.trigger_with_form(logged_in.page, stack.airflow_url, DAG_ID,
                                       {"rows": rows, "region": "cone:100,-20,2", "seed": 7}, screenshot=shot)
    state = ui.wait_for_run_state(stack.airflow, DAG_ID, airflow_run, timeout=1200)
    ui.show_run(logged_in.page, stack.airflow_url, DAG_ID, airflow_run)
    shot("pipeline-finished")
    assert state == "success", stack.airflow.task_states(DAG_ID, airflow_run)
    assert ui.dag_run(stack.airflow, DAG_ID, airflow_run)["conf"]["rows"] == rows

    run_id = safe_run_id(airflow_run)
    fs = arrow_fs(stack.settings)
    stars = cat.open_catalog(fs, f"{stack.settings.bucket('catalogs')}/synthetic_stars")
    assert stars.n_rows == rows  # the form's value reached the ingest step

    # The marts, as the analyst role sees them.
    with psycopg.connect(stack.analyst_dsn) as conn:
        n_candidates, n_a = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE grade = 'A') FROM marts.radio_star_candidates "
            "WHERE run_id = %s", (run_id,)).fetchone()
        summary = conn.execute("SELECT n_radio_read, n_matched FROM marts.survey_summary WHERE run_id = %s",
                               (run_id,)).fetchall()
    assert n_candidates > 0 and n_a > 0
    assert len(summary) == 1 and summary[0][1] == n_candidates

    radio = cat.open_catalog(fs, f"{stack.settings.bucket('catalogs')}/synthetic_radio")
    scores = truth_scores(radio.path, run_id, stack.settings)
    assert scores is not None and scores["injected"] > 0
    assert scores["completeness"] >= 0.9  # injected radio stars found at their host star

    keys = set(lake.list_keys(stack.settings.bucket("reports"), f"{run_id}/",
                              client=lake.minio_client(stack.settings)))
    expected = {f"{run_id}/{name}" for name in
                ("index.html", "summary.md", "sky_map.png", "cmd.png", "separation_histogram.png")}
    assert expected <= keys
    page = lake.get_bytes(stack.settings.bucket("reports"), f"{run_id}/index.html").decode()
    assert "sky_map.png" in page and run_id in page
