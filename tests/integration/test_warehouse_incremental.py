"""Incremental marts on the real warehouse: after loads, reloads, per-model builds (as Cosmos runs them) and
new cuts, an incremental build leaves exactly the rows a `--full-refresh` computes from scratch.

On a warehouse of the module's own (`own_warehouse`: PostgreSQL and the S3 server, no Airflow): these tests need
nothing else, and under `make test` they then run beside the shared stack's tests instead of after them."""

from __future__ import annotations

import pandas as pd
import psycopg
import pytest

from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results

pytestmark = pytest.mark.integration

SURVEY, OTHER = "it_inc_racs", "it_inc_vlass"
#: mart (or intermediate table) -> its key; bookkeeping columns that say *when* a row was computed differ.
TABLES = {
    "intermediate.int_best_matches": "radio_key",
    "marts.radio_star_candidates": "candidate_key",
    "marts.survey_summary": "summary_key",
    "marts.sky_summary": "region_key",
    "marts.radio_star_detections": "detection_key",
    "intermediate.int_star_identities": "star_id",
    "marts.radio_stars": "star_id",
}
WHEN_COMPUTED = ["built_at", "detections_built_at"]
#: The models in dependency order: what `dbt build --select <model>` per task runs, one after the other.
MODELS = ["stg_runs", "stg_radio_sources", "stg_stars", "stg_pairs", "stg_best", "stg_offset_stats",
          "int_runs", "int_latest_stars", "int_chance_rates", "int_best_matches", "int_run_survey_pairs",
          "radio_star_candidates", "radio_extragalactic_counterparts", "sky_summary", "survey_summary",
          "int_star_detections", "int_star_identities", "radio_star_detections", "radio_stars"]


def snapshot(dsn: str) -> dict[str, pd.DataFrame]:
    out = {}
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for table, key in TABLES.items():
            cur.execute(f"SELECT * FROM {table} ORDER BY {key}")
            df = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
            out[table] = df.drop(columns=[c for c in WHEN_COMPUTED if c in df]).reset_index(drop=True)
    return out


def assert_same(incremental: dict[str, pd.DataFrame], full: dict[str, pd.DataFrame]) -> None:
    for table in TABLES:
        assert len(incremental[table]) == len(full[table]), table
        # Averages may add the same rows in another order: equal to the last few bits.
        pd.testing.assert_frame_equal(incremental[table], full[table], check_exact=False, rtol=1e-12,
                                      obj=table)


def write_run(tmp_path_factory, run_id: str, seed: int, survey: str, n_pairs: int = 900) -> str:
    tables, run = make_sample_tables(n_pairs, seed=seed, run_id=run_id, survey=survey)
    path = str(tmp_path_factory.mktemp(f"{run_id}-{seed}"))
    write_results(path, tables, run)
    return path


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("dbt-incremental")


def full_refresh(own_warehouse, work, vars=None) -> dict[str, pd.DataFrame]:
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work, full_refresh=True, vars=vars)
    return snapshot(own_warehouse.settings.warehouse_dsn)


def test_loads_reloads_and_superseding_runs(own_warehouse, work, tmp_path_factory):
    dsn = own_warehouse.settings.warehouse_dsn
    run_a = write_run(tmp_path_factory, "it-inc-a", 41, SURVEY)
    load_run(run_a, dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)  # the marts exist before the next loads
    load_run(write_run(tmp_path_factory, "it-inc-b", 42, SURVEY), dsn=dsn)  # newer run: supersedes A
    load_run(write_run(tmp_path_factory, "it-inc-c", 43, OTHER), dsn=dsn)
    result = dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    assert set(result.statuses().values()) <= {"success", "pass"}
    incremental = snapshot(dsn)
    assert_same(incremental, full_refresh(own_warehouse, work))

    # Rerun A with new content: its rows are replaced (no duplicates), and A, now the newest, supersedes B.
    a_v2 = write_run(tmp_path_factory, "it-inc-a", 44, SURVEY, n_pairs=700)
    load_run(a_v2, dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    incremental = snapshot(dsn)
    candidates = incremental["marts.radio_star_candidates"]
    n_best = make_sample_tables(700, seed=44, run_id="it-inc-a", survey=SURVEY)[1]["n_best"]
    assert (candidates["run_id"] == "it-inc-a").sum() == n_best
    latest = candidates.groupby("run_id")["is_latest_run"].first()
    assert latest["it-inc-a"] and not latest["it-inc-b"]
    detections = incremental["marts.radio_star_detections"]
    assert set(detections.loc[detections["survey"] == SURVEY, "run_id"]) == {"it-inc-a"}
    assert_same(incremental, full_refresh(own_warehouse, work))

    # The same rerun again changes nothing but when the run was loaded.
    load_run(a_v2, dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    again = snapshot(dsn)
    assert_same(*({t: df.drop(columns="run_loaded_at", errors="ignore") for t, df in snap.items()}
                  for snap in (again, incremental)))


def test_model_by_model_builds_as_cosmos_runs_them(own_warehouse, work, tmp_path_factory):
    dsn = own_warehouse.settings.warehouse_dsn
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    load_run(write_run(tmp_path_factory, "it-inc-b", 45, SURVEY, n_pairs=600), dsn=dsn)  # B newest again
    load_run(write_run(tmp_path_factory, "it-inc-d", 46, OTHER), dsn=dsn)
    for model in MODELS:  # a test reaching a later model (e.g. candidates -> sky_summary) runs after both
        result = dbt_runner.run_dbt(["build", "--select", model, "--indirect-selection", "cautious"],
                                    settings=own_warehouse.settings, work_dir=work)
        assert result.statuses()[f"model.radiolake.{model}"] == "success"
    tests = dbt_runner.run_dbt(["test"], settings=own_warehouse.settings, work_dir=work)
    assert set(tests.statuses().values()) == {"pass"}
    assert_same(snapshot(dsn), full_refresh(own_warehouse, work))


def test_new_cuts_recompute_every_row(own_warehouse, work):
    """Rows never mix two sets of cuts: a build with other cuts recomputes what depends on them."""
    dsn = own_warehouse.settings.warehouse_dsn
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    # star_detection_min_probability: radio_stars' n_secure_detections must follow it too (issue 21)
    cuts = {"grade_b_min_probability": 0.5, "parallax_snr_min": 3.0, "star_detection_min_probability": 0.5}
    try:
        dbt_runner.build(settings=own_warehouse.settings, work_dir=work, vars=cuts)
        incremental = snapshot(dsn)
        assert_same(incremental, full_refresh(own_warehouse, work, vars=cuts))
    finally:
        dbt_runner.build(settings=own_warehouse.settings, work_dir=work)  # back to the project's cuts
    assert not snapshot(dsn)["marts.radio_stars"].equals(incremental["marts.radio_stars"])


def _partitions_of(dsn: str, run_id: str) -> list[str]:
    from radiolake.warehouse.partitions import partition_prefix
    from radiolake.warehouse.tables import LOAD_TABLES

    with psycopg.connect(dsn) as conn:
        return [r[0] for t in LOAD_TABLES for r in conn.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relnamespace = 'load'::regnamespace AND c.relname LIKE %s",
            (partition_prefix(t.name, run_id) + "\\_%",)).fetchall()]


def test_retention_drops_old_runs_cleanly(own_warehouse, work, tmp_path_factory):
    from radiolake.warehouse.retention import RetentionPolicy

    dsn = own_warehouse.settings.warehouse_dsn
    survey = "it_ret_racs"
    runs = ["it-ret-pinned", "it-ret-1", "it-ret-2", "it-ret-3"]  # loaded (and created) oldest first
    for seed, run_id in enumerate(runs, start=50):
        load_run(write_run(tmp_path_factory, run_id, seed, survey, n_pairs=400), dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    before = snapshot(dsn)
    others = before["marts.radio_star_candidates"].query("survey != @survey")
    assert set(before["marts.survey_summary"]["run_id"]) >= set(runs)

    # Keep the newest run of each combination, and the pinned one; the newest is reloaded to apply it.
    # The runs of this module's other tests are pinned too, so only this test's runs can go.
    with psycopg.connect(dsn) as conn:
        others_runs = {r[0] for r in conn.execute("SELECT run_id FROM load.runs WHERE run_id NOT LIKE 'it-ret-%'")}
    policy = RetentionPolicy(keep_runs=1, pinned=frozenset({"it-ret-pinned", *others_runs}))
    report = load_run(write_run(tmp_path_factory, "it-ret-3", 53, survey, n_pairs=400), dsn=dsn,
                      retention=policy)
    assert sorted(report.dropped_runs) == ["it-ret-1", "it-ret-2"]
    with psycopg.connect(dsn) as conn:
        for table in ("runs", "radio_sources", "stars", "offset_stats", "pairs", "best"):
            left = conn.execute(f"SELECT DISTINCT run_id FROM load.{table} WHERE run_id LIKE 'it-ret-%%'")
            assert {r[0] for r in left} == {"it-ret-pinned", "it-ret-3"}, table
    assert _partitions_of(dsn, "it-ret-1") == _partitions_of(dsn, "it-ret-2") == []
    assert _partitions_of(dsn, "it-ret-3")  # the kept run's partitions are there

    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    after = snapshot(dsn)
    for table, df in after.items():
        if "run_id" in df:
            assert not set(df["run_id"]) & {"it-ret-1", "it-ret-2"}, table
    pd.testing.assert_frame_equal(  # other runs' candidates untouched
        after["marts.radio_star_candidates"].query("survey != @survey").reset_index(drop=True),
        others.reset_index(drop=True))
    assert_same(after, full_refresh(own_warehouse, work))


def test_retention_by_age_never_drops_the_newest(own_warehouse, tmp_path_factory):
    from radiolake.warehouse.retention import RetentionPolicy, runs_to_drop

    dsn = own_warehouse.settings.warehouse_dsn
    for run_id, created in (("it-age-old", "2020-01-01T00:00:00+00:00"),
                            ("it-age-older", "2019-01-01T00:00:00+00:00")):
        tables, run = make_sample_tables(200, seed=60, run_id=run_id, survey="it_age_racs")
        run["created_utc"] = created
        path = str(tmp_path_factory.mktemp(run_id))
        write_results(path, tables, run)
        load_run(path, dsn=dsn)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        doomed = runs_to_drop(cur, RetentionPolicy(keep_days=365))
        pinned = runs_to_drop(cur, RetentionPolicy(keep_days=365, pinned=frozenset({"it-age-older"})))
    assert "it-age-older" in doomed  # over a year old and superseded
    assert "it-age-old" not in doomed  # over a year old, but the newest of its combination
    assert "it-age-older" not in pinned
    assert not [r for r in doomed if r.startswith(("it-inc-", "it-ret-"))]  # created today


def test_check_runs_scopes_the_tests_and_refuses_non_ids(own_warehouse, work):
    """With check_runs, tests see those runs' rows only: a broken row elsewhere passes, in scope it fails."""
    dsn = own_warehouse.settings.warehouse_dsn
    with psycopg.connect(dsn) as conn:
        runs = {r[0] for r in conn.execute("SELECT run_id FROM load.runs WHERE run_id IN ('it-inc-a', 'it-inc-c')")}
        assert runs == {"it-inc-a", "it-inc-c"}
        conn.execute("INSERT INTO load.best SELECT run_id, 'ghost-radio', 'ghost-star', separation_arcsec, "
                     "separation_sigma, dt_years, pm_applied, rank, star_density_deg2, p_chance, star_ra_at_epoch, "
                     "star_dec_at_epoch, combined_error_arcsec, likelihood_ratio, association_probability "
                     "FROM load.best WHERE run_id = 'it-inc-c' LIMIT 1")
    try:
        result = dbt_runner.build(settings=own_warehouse.settings, work_dir=work, select="stg_best",
                                  vars={"check_runs": ["it-inc-a"]})
        assert set(result.statuses().values()) <= {"success", "pass"}
        with pytest.raises(dbt_runner.DbtError) as info:
            dbt_runner.build(settings=own_warehouse.settings, work_dir=work, select="stg_best",
                             vars={"check_runs": ["it-inc-c"]})
        assert "relationships_stg_best_radio_key" in " ".join(info.value.failures)
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM load.best WHERE radio_id = 'ghost-radio'")
    with pytest.raises(dbt_runner.DbtError, match="not a run id"):
        dbt_runner.build(settings=own_warehouse.settings, work_dir=work, select="stg_best",
                         vars={"check_runs": ["x' or '1'='1"]})


def test_big_increments_rewrite_the_table_and_small_ones_insert(own_warehouse, work, tmp_path_factory):
    """incremental_direct: a build adding fewer rows than a table holds inserts them (same storage); one adding
    at least as many truncates and refills the table (new storage, same table: views over it and its grants
    stay). Either way the rows are those of a full refresh."""
    dsn = own_warehouse.settings.warehouse_dsn
    load_run(write_run(tmp_path_factory, "it-inc-base", 69, "it_inc_base", n_pairs=300), dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    tables = ("intermediate.int_best_matches", "intermediate.int_star_detections", "marts.radio_stars")

    def state() -> dict[str, tuple[int, int, int]]:
        with psycopg.connect(dsn) as conn:
            return {t: conn.execute(f"SELECT oid, relfilenode, (SELECT count(*) FROM {t}) FROM pg_class "
                                    f"WHERE oid = '{t}'::regclass").fetchone() for t in tables}

    before = state()
    load_run(write_run(tmp_path_factory, "it-inc-small", 70, "it_inc_small", n_pairs=60), dsn=dsn)
    dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
    after_small = state()
    assert after_small["intermediate.int_best_matches"][2] > before["intermediate.int_best_matches"][2]
    for table, (oid, filenode, rows) in before.items():
        assert after_small[table][:2] == (oid, filenode), f"{table} was rewritten for a small increment"
        assert after_small[table][2] >= rows, table  # sample runs share star ids: not every star is new

    n_big = 3 * max(rows for *_, rows in after_small.values())  # ~2/3 of the pairs become best matches
    load_run(write_run(tmp_path_factory, "it-inc-big", 71, "it_inc_big", n_pairs=n_big), dsn=dsn)
    with psycopg.connect(dsn) as conn:  # a view over a rewritten table, to see it survive the rewrite
        conn.execute("CREATE OR REPLACE VIEW public.it_inc_analyst AS SELECT count(*) AS n "
                     "FROM marts.radio_stars")
    try:
        result = dbt_runner.build(settings=own_warehouse.settings, work_dir=work)
        assert set(result.statuses().values()) <= {"success", "pass"}
        after_big = state()
        for table, (oid, filenode, rows) in after_small.items():
            assert after_big[table][0] == oid, f"{table} was replaced by another table"
            assert after_big[table][1] != filenode, f"{table} was not rewritten for an increment bigger than it"
            assert after_big[table][2] > rows, table
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SELECT n FROM public.it_inc_analyst").fetchone()[0] > 0
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DROP VIEW IF EXISTS public.it_inc_analyst")
    assert result.statuses()["test.radiolake.assert_mart_keys_have_unique_indexes"] == "pass"
    incremental = snapshot(dsn)
    assert_same(incremental, full_refresh(own_warehouse, work))
