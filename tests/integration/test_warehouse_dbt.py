"""dbt build and docs on synthetic runs in the real warehouse; marts checked against independent Python;
the analyst role reads the marts and nothing else."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import psycopg
import pytest
from astropy import units as u
from psycopg import errors

from radiolake.run_params import dbt_check_runs_vars
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results

pytestmark = pytest.mark.integration

SURVEY = "it_dbt_survey"  # a radio catalogue name of its own, so "latest run" is decided by these runs only
RUNS = {"it-dbt-old": 31, "it-dbt-new": 32}
CUTS = {"a_prob": 0.95, "a_snr": 5.0, "b_prob": 0.8, "snr_min": 5.0}


@pytest.fixture(scope="module")
def built(stack, tmp_path_factory):
    """Two runs of the same catalogues loaded in order, then one full `dbt build` (models + all tests)."""
    dsn = stack.settings.warehouse_dsn
    samples = {}
    for run_id, seed in RUNS.items():
        tables, run = make_sample_tables(1200, seed=seed, run_id=run_id, survey=SURVEY)
        path = tmp_path_factory.mktemp(run_id)
        write_results(str(path), tables, run)
        load_run(str(path), dsn=dsn)
        samples[run_id] = (tables, run)
    work = tmp_path_factory.mktemp("dbt")
    result = dbt_runner.build(settings=stack.settings, work_dir=work)
    return samples, result, work


def query(dsn: str, sql: str, params=()) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def expected_candidates(tables: dict) -> pd.DataFrame:
    """Grades, distances and luminosities computed here from the files, independently of the SQL."""
    best = tables["best"].to_pandas()
    stars = tables["stars"].to_pandas().rename(columns={"source_id": "star_id"})
    radio = tables["radio_sources"].to_pandas().rename(columns={"source_id": "radio_id"})
    df = best.merge(stars[["star_id", "parallax", "parallax_error", "phot_g_mean_mag"]], on="star_id")
    df = df.merge(radio[["radio_id", "flux_int_mjy"]], on="radio_id")
    snr = df["parallax"] / df["parallax_error"]
    good = (df["parallax"] > 0) & (snr >= CUTS["snr_min"])
    df["distance_pc"] = np.where(good, 1000.0 / df["parallax"], np.nan)
    d = df["distance_pc"].to_numpy() * u.pc
    lum = (4 * np.pi * d**2 * df["flux_int_mjy"].to_numpy() * u.mJy).to(u.erg / u.s / u.Hz)
    df["lum"] = lum.value
    with np.errstate(invalid="ignore", divide="ignore"):  # only rows with a distance are compared
        df["abs_g"] = df["phot_g_mean_mag"] + 5 * np.log10(df["parallax"] / 100.0)
    star = df["population"] == "star"  # the top grades need stellar evidence
    is_a = star & (df["association_probability"] >= CUTS["a_prob"]) & (snr >= CUTS["a_snr"])
    is_b = star & (df["association_probability"] >= CUTS["b_prob"])
    df["grade"] = np.where(is_a, "A", np.where(is_b, "B", "C"))
    return df.set_index("radio_id")


def test_dbt_build_passes_with_tests(built):
    _, result, _ = built
    statuses = result.statuses()
    n_tests = sum(k.startswith("test.") for k in statuses)
    assert n_tests >= 35
    # Column rules run as one column_checks test per model (tests/generic/column_checks.sql): every model
    # has one, and together they hold the not-null, range and accepted-value rules of marts.yml & co.
    manifest = json.loads((result.target_path / "manifest.json").read_text())
    checks = [n for n in manifest["nodes"].values()
              if n["resource_type"] == "test" and (n.get("test_metadata") or {}).get("name") == "column_checks"]
    assert {n["attached_node"].split(".")[-1] for n in checks} >= {
        "stg_runs", "stg_radio_sources", "stg_stars", "stg_pairs", "stg_best", "stg_offset_stats",
        "int_best_matches", "int_chance_rates", "radio_star_candidates", "survey_summary", "sky_summary",
        "radio_star_detections", "radio_stars"}
    n_rules = sum(len(kwargs.get(kind) or ()) for n in checks for kwargs in [n["test_metadata"]["kwargs"]]
                  for kind in ("not_null", "ranges", "accepted_values"))
    assert n_rules >= 120
    assert all(statuses[n["unique_id"]] == "pass" for n in checks)
    assert set(statuses.values()) <= {"success", "pass"}
    for model in ("radio_star_candidates", "survey_summary", "sky_summary"):
        assert statuses[f"model.radiolake.{model}"] == "success"
    assert any("assert_candidate_grades_follow_cuts" in k for k in statuses)
    # staging keys: the load partitions' primary keys, checked present (not `unique` tests per build)
    assert statuses["test.radiolake.assert_load_partitions_have_primary_keys"] == "pass"
    assert not any(k.startswith("test.radiolake.unique_stg_") and "run_id" not in k for k in statuses)


def test_candidates_match_independent_computation(stack, built):
    samples, _, _ = built
    for run_id, (tables, _) in samples.items():
        expected = expected_candidates(tables)
        got = query(stack.settings.warehouse_dsn,
                    "SELECT * FROM marts.radio_star_candidates WHERE run_id = %s",
                    (run_id,)).set_index("radio_id").loc[expected.index]
        assert len(got) == len(expected) == tables["best"].num_rows
        assert (got["grade"] == expected["grade"]).all()
        assert set(expected["grade"]) == {"A", "B", "C"}  # the sample exercises every grade
        has_d = expected["distance_pc"].notna()
        assert (got["distance_pc"].notna() == has_d).all()
        assert np.allclose(got.loc[has_d, "distance_pc"].astype(float), expected.loc[has_d, "distance_pc"])
        assert np.allclose(got.loc[has_d, "radio_luminosity_erg_s_hz"].astype(float),
                           expected.loc[has_d, "lum"], rtol=1e-9)
        assert np.allclose(got.loc[has_d, "abs_g_mag"].astype(float), expected.loc[has_d, "abs_g"])


def test_summaries_agree_with_run_metadata(stack, built):
    samples, _, _ = built
    dsn = stack.settings.warehouse_dsn
    summary = query(dsn, "SELECT * FROM marts.survey_summary WHERE survey = %s",
                    (SURVEY,)).set_index("run_id")
    sky = query(dsn, "SELECT run_id, sum(n_matches) AS n_matches, sum(n_radio) AS n_radio, "
                     "sum(n_grade_a + n_grade_b + n_grade_c) AS n_graded FROM marts.sky_summary "
                     "WHERE run_id = ANY(%s) GROUP BY run_id", (list(RUNS),)).set_index("run_id")
    for run_id, (tables, run) in samples.items():
        row = summary.loc[run_id]
        assert row["n_matched"] == run["n_best"]
        assert row["n_pairs"] == run["n_pairs"]
        assert row["n_radio_read"] == run["n_radio"]
        assert float(row["expected_false_matches"]) == pytest.approx(run["expected_false_matches"])
        versions = run["catalog_versions"]  # the exact catalogue versions the run read
        assert (row["radio_catalog_version"], row["star_catalog_version"]) == (
            versions["radio"]["version"], versions["stars"]["version"])
        grades = expected_candidates(tables)["grade"].value_counts()
        got_grades = (row["n_grade_a"], row["n_grade_b"], row["n_grade_c"])
        assert got_grades == (grades["A"], grades["B"], grades["C"])
        assert sky.loc[run_id, "n_matches"] == sky.loc[run_id, "n_graded"] == run["n_best"]
        assert sky.loc[run_id, "n_radio"] == run["n_radio"]
    # Both runs stay queryable; only the newer one is flagged latest.
    assert summary.loc["it-dbt-new", "is_latest_run"] and not summary.loc["it-dbt-old", "is_latest_run"]


def test_docs_generate(stack, built):
    _, _, work = built
    target = dbt_runner.docs_generate(settings=stack.settings, work_dir=work)
    assert (target / "index.html").is_file()
    catalog = json.loads((target / "catalog.json").read_text())
    columns = catalog["nodes"]["model.radiolake.radio_star_candidates"]["columns"]
    assert {"grade", "p_chance", "radio_luminosity_erg_s_hz"} <= set(columns)
    manifest = json.loads((target / "manifest.json").read_text())
    grade_doc = manifest["nodes"]["model.radiolake.radio_star_candidates"]["columns"]["grade"]["description"]
    assert "association_probability >= 0.95" in grade_doc


def test_grade_test_catches_cuts_that_disagree(stack, built):
    """The custom test bites: checked with tighter A cuts than the mart was built with, it fails by name."""
    _, _, work = built
    with pytest.raises(dbt_runner.DbtError) as info:
        dbt_runner.run_dbt(["test", "--select", "assert_candidate_grades_follow_cuts"],
                           settings=stack.settings, vars={"grade_a_min_probability": 0.999999}, work_dir=work)
    assert len(info.value.failures) == 1
    assert "assert_candidate_grades_follow_cuts" in info.value.failures[0]


def test_broken_relationship_fails_the_build_by_name(stack, built):
    dsn = stack.settings.warehouse_dsn
    _, _, work = built
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO load.best SELECT 'it-dbt-new', 'ghost-radio', 'ghost-star', "
                     "separation_arcsec, separation_sigma, dt_years, pm_applied, rank, star_density_deg2, "
                     "p_chance, "
                     "star_ra_at_epoch, star_dec_at_epoch, combined_error_arcsec, likelihood_ratio, "
                     "association_probability FROM load.best WHERE run_id = 'it-dbt-new' LIMIT 1")
    try:
        with pytest.raises(dbt_runner.DbtError) as info:
            dbt_runner.build(settings=stack.settings, select="stg_best", work_dir=work)
        failed = " ".join(info.value.failures)
        assert "relationships_stg_best_star_key" in failed and "relationships_stg_best_radio_key" in failed
        # Checking only the ghost's run (both sides of the test limited to it) still finds it by name;
        # checking only the other run does not look at it.
        with pytest.raises(dbt_runner.DbtError) as info:
            dbt_runner.build(settings=stack.settings, select="stg_best", work_dir=work,
                             vars=dbt_check_runs_vars(["it-dbt-new"]))
        assert "relationships_stg_best_star_key" in " ".join(info.value.failures)
        other = dbt_runner.build(settings=stack.settings, select="stg_best", work_dir=work,
                                 vars=dbt_check_runs_vars(["it-dbt-old"]))
        assert set(other.statuses().values()) <= {"success", "pass"}
        compiled = next((work / "target" / "run").rglob("relationships_stg_best_star_key*.sql")).read_text()
        assert "\"stg_stars\" where run_id in ('it-dbt-old')" in compiled  # the parent side is limited too
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM load.best WHERE radio_id = 'ghost-radio'")


def test_analyst_reads_marts_only(stack, built):
    with psycopg.connect(stack.analyst_dsn, autocommit=True) as conn:
        for mart in ("radio_star_candidates", "survey_summary", "sky_summary"):
            n = conn.execute(f"SELECT count(*) FROM marts.{mart} WHERE run_id = 'it-dbt-new'").fetchone()[0]
            assert n > 0
        refused = [
            "SELECT * FROM load.runs LIMIT 1",
            "SELECT * FROM load.pairs LIMIT 1",
            "SELECT * FROM staging.stg_runs LIMIT 1",
            "SELECT * FROM intermediate.int_best_matches LIMIT 1",
            "CREATE TABLE public.analyst_scratch (x int)",
            "CREATE TABLE marts.analyst_scratch (x int)",
            "CREATE TEMP TABLE analyst_scratch (x int)",
            "INSERT INTO marts.survey_summary (summary_key) VALUES ('x')",
            "UPDATE marts.sky_summary SET n_matches = 0",
            "DELETE FROM marts.sky_summary",
            "TRUNCATE marts.sky_summary",
            "DROP TABLE marts.sky_summary",
            "CREATE SCHEMA analyst_schema",
        ]
        for statement in refused:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        # radio_star_candidates is a view (over an incremental table): Postgres refuses a write to it as not
        # updatable before it checks privileges, and the analyst has no write privilege on it either.
        with pytest.raises((errors.InsufficientPrivilege, errors.ObjectNotInPrerequisiteState)):
            conn.execute("UPDATE marts.radio_star_candidates SET grade = 'A'")
        for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
            assert not conn.execute("SELECT has_table_privilege('marts.radio_star_candidates', %s)",
                                    (privilege,)).fetchone()[0]
