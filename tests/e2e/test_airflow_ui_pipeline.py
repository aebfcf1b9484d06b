"""End to end in a real browser: trigger the whole pipeline from the Airflow UI form, see its dbt models as
tasks of their own in the run's grid, Clear one model, then check the marts and the buckets as a user would
(SQL as the read-only analyst, objects in the reports bucket)."""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import expect

from radiolake import lake
from radiolake.app.pipeline import truth_scores
from radiolake.crossmatch.runner import safe_run_id
from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets
from tests.e2e import airflow_ui as ui

DAG_ID = "radiolake_pipeline"
#: dbt models a user looks for in the run's grid: one per layer.
MODELS = ("stg_pairs", "int_best_matches", "radio_star_candidates", "survey_summary", "radio_stars")


@pytest.mark.e2e
@pytest.mark.timeout(2400)  # a whole pipeline run (about 50 tasks, one per dbt model and test) plus a Clear
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

    # The dbt project ran as one task per model with its tests after it, each shown in the grid and listed
    # with its state in the run's Task Instances table.
    states = stack.airflow.task_states(DAG_ID, airflow_run)
    dbt_states = {t: s for t, s in states.items() if t.startswith("dbt.")}
    assert len(dbt_states) >= 30 and set(dbt_states.values()) == {"success"}, dbt_states
    page = logged_in.page
    page.set_viewport_size({"width": 1400, "height": 2400})  # the grid draws only the rows on screen
    ui.expand_task_groups(page)
    shot("dbt-models-in-the-grid")
    for model in MODELS:
        for step in ("run", "test"):
            task_id = f"dbt.{model}.{step}"
            assert states[task_id] == "success"
            expect(ui.grid_cell(page, airflow_run, task_id)).to_be_visible(timeout=ui.UI_TIMEOUT_MS)
    # The run's Task Instances table, every task on one page (the run has more than the UI's 50-row default).
    ui.show_run(page, stack.airflow_url, DAG_ID, airflow_run, rows=100)
    for model in MODELS:
        for step in ("run", "test"):
            task_id = f"dbt.{model}.{step}"
            expect(ui.task_instance_row(page, task_id)).to_contain_text("Success", timeout=ui.UI_TIMEOUT_MS)
    page.set_viewport_size({"width": 1400, "height": 900})

    # Clear one model in the UI: it reruns with its tests (the dialog's default "Downstream"), and the other
    # models are left as they were.
    tries = {t: ui.task_instance(stack.airflow, DAG_ID, airflow_run, t)["try_number"]
             for t in ("dbt.survey_summary.run", "dbt.stg_pairs.run", "dbt.radio_star_candidates.run")}
    ui.clear_task_in_ui(page, stack.airflow_url, DAG_ID, airflow_run, "dbt.survey_summary.run", screenshot=shot)
    ui.wait_for_task_state(stack.airflow, DAG_ID, airflow_run, "dbt.survey_summary.run", {"success", "failed"},
                           timeout=600, min_try=tries["dbt.survey_summary.run"] + 1)
    assert ui.wait_for_run_state(stack.airflow, DAG_ID, airflow_run, timeout=600) == "success"
    for task_id in ("dbt.stg_pairs.run", "dbt.radio_star_candidates.run"):
        assert ui.task_instance(stack.airflow, DAG_ID, airflow_run, task_id)["try_number"] == tries[task_id]
    ui.show_task(page, stack.airflow_url, DAG_ID, airflow_run, "dbt.survey_summary.run")
    shot("model-rerun")

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
