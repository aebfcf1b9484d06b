"""End to end in a real browser: a user triggers ingest DAGs from the Airflow UI form, and recovers a failure.

1. Trigger `ingest_synthetic_stars` through the form with a non-default `rows`; the committed catalogue in
   the catalogs bucket has exactly that many rows.
2. Point `ingest_hip2_csv` at a corrupt file: the run fails at the ingest step with a message naming the
   file and the missing column; fix the file in place, press Clear in the UI; the rerun succeeds, and the
   catalogue holds each row once.
Screenshots of every step land in artifacts/e2e/<test>/.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow.compute as pc
import pytest

from radiolake.import_paths import allowed_import_dirs
from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets
from tests.e2e import airflow_ui as ui

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _prepare(stack, dag_id: str) -> None:  # noqa: F811 - `stack` is the fixture's value
    ensure_buckets(stack.settings)
    stack.airflow.wait_for_dag(dag_id)
    ui.ensure_unpaused(stack.airflow, dag_id)


@pytest.mark.e2e
def test_trigger_synthetic_ingest_from_the_form(stack, logged_in):
    dag_id, rows = "ingest_synthetic_stars", 1234  # the definition's default is 100000
    _prepare(stack, dag_id)
    shot = logged_in.screenshot
    run_id = ui.trigger_with_form(
        logged_in.page, stack.airflow_url, dag_id, {"region": "cone:210,-30,8", "rows": rows, "seed": 99},
        screenshot=shot,
    )
    shot("triggered")
    state = ui.wait_for_run_state(stack.airflow, dag_id, run_id, timeout=300)
    ui.show_run(logged_in.page, stack.airflow_url, dag_id, run_id)
    shot("run-finished")
    assert state == "success", stack.airflow.task_states(dag_id, run_id)

    # The form's values reached the task: the run's conf is what was typed, and the catalogue has `rows`.
    run = ui.dag_run(stack.airflow, dag_id, run_id)
    assert run["conf"]["rows"] == rows and run["conf"]["seed"] == 99
    fs = arrow_fs(stack.settings)
    base = f"{stack.settings.bucket('catalogs')}/synthetic_stars"
    info = cat.open_catalog(fs, base)
    assert info.metadata["provenance"]["synthetic"]["n_stars"] == rows
    assert info.n_rows == rows
    assert cat.read_catalog(fs, base, columns=["source_id"]).num_rows == rows  # the Parquet, not only metadata


def _hip2_sample(n: int) -> str:
    """The first `n` rows of the real Hipparcos 2 CSV (header included)."""
    with gzip.open(SHARED_DATA / "hip2_epoch1991.25.csv.gz", "rt") as fh:
        lines = [next(fh) for _ in range(n + 1)]
    return "".join(lines)


@pytest.mark.e2e
def test_failed_ingest_is_fixed_cleared_and_rerun_without_duplicates(stack, logged_in):
    dag_id, task_id, n_rows = "ingest_hip2_csv", "ingest", 250
    _prepare(stack, dag_id)
    shot = logged_in.screenshot
    good = _hip2_sample(n_rows)
    imports = allowed_import_dirs()[0]  # file parameters are read from the imports folder only
    imports.mkdir(parents=True, exist_ok=True)
    data_file = imports / "hip2_sample.csv"
    data_file.write_text(good.replace("dec_deg", "dec_dgr", 1))  # a corrupt header: a mapped column is gone
    data_file.chmod(0o644)

    run_id = ui.trigger_with_form(logged_in.page, stack.airflow_url, dag_id,
                                  {"path": data_file.name, "region": "all"}, screenshot=shot)
    # The DAG may retry before giving up; every try reads the same bad file, so the run ends failed.
    state = ui.wait_for_run_state(stack.airflow, dag_id, run_id, timeout=480)
    ti = ui.task_instance(stack.airflow, dag_id, run_id, task_id)
    ui.show_task(logged_in.page, stack.airflow_url, dag_id, run_id, task_id)
    ui.expect_in_task_log(logged_in.page, r"dec_deg.*missing")  # the user sees the cause in the UI's log
    shot("failed-task")
    assert state == "failed"
    assert ti["state"] == "failed"
    log = ui.task_log(stack.airflow, dag_id, run_id, task_id, ti["try_number"])
    assert "dec_deg" in log and "missing" in log, log[-3000:]  # names the missing column
    assert "hip2_sample.csv" in log and "nothing was committed" in log
    catalogs = f"{stack.settings.bucket('catalogs')}/hip2_csv"
    fs = arrow_fs(stack.settings)
    assert not any(cat.list_versions(fs, catalogs).values())  # nothing committed from the bad file

    data_file.write_text(good)  # the user fixes the file in place...
    ui.clear_task_in_ui(logged_in.page, stack.airflow_url, dag_id, run_id, task_id, screenshot=shot)
    shot("cleared")
    ui.wait_for_task_state(stack.airflow, dag_id, run_id, task_id, {"success", "failed"}, timeout=300,
                           min_try=ti["try_number"] + 1)
    state = ui.wait_for_run_state(stack.airflow, dag_id, run_id, timeout=120)
    ui.show_task(logged_in.page, stack.airflow_url, dag_id, run_id, task_id)
    shot("rerun-succeeded")
    assert state == "success", stack.airflow.task_states(dag_id, run_id)

    info = cat.open_catalog(fs, catalogs)
    ids = cat.read_catalog(fs, catalogs, columns=["source_id"]).column("source_id")
    assert info.n_rows == n_rows == len(ids)
    assert pc.count_distinct(ids).as_py() == n_rows  # each star once: no duplicate rows from the retries
    assert [v for v, committed in cat.list_versions(fs, catalogs).items() if committed] == [info.version]
