"""The end-to-end pipeline's steps: ingest (radio + stars) → cross-match → load → dbt (one Airflow task per
model, radiolake.warehouse.dbt_airflow) → report.

Each step is a plain function taking the run's parameters, so the `radiolake_pipeline` DAG stays wiring only
and the CLI or a notebook can run the same steps. Every step logs its counts and returns a small summary
(the task's XCom), and raises `PipelineStepError` naming the step and its input when it fails.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import psycopg

from radiolake.config import Settings, get_settings
from radiolake.run_params import (
    CrossmatchParams,
    IngestParams,
    RunParamError,
    check_values,
    epoch_catalog,
    surface_defaults,
)

log = logging.getLogger(__name__)

#: The pipeline form's defaults (generated from the run parameters' declaration, radiolake.run_params).
DEFAULTS: dict[str, Any] = surface_defaults("pipeline")


class PipelineStepError(RuntimeError):
    """A step failed; the message names the step and what it was working on."""


class BadInputError(PipelineStepError):
    """The input itself is bad (unreadable file, missing column, too many bad rows): retrying reads the same
    input, so the task should fail at once; fix the input, then clear the task."""


def ingest_survey_step(survey: str, params: IngestParams, step: str = "ingest", epoch: str | None = None) -> dict:
    """Ingest one survey with checked parameters: the pipeline's radio or stars ingest (`ingest_step`) and
    each ingest_<survey> DAG. BadInputError when the input itself is bad (a retry would read the same).
    `epoch` (a radio epoch label): into the epoch's own catalogue (`epoch_survey`)."""
    from radiolake.import_paths import ImportPathError, open_import_file
    from radiolake.ingest.run import IngestError, ingest_survey

    what = f"{step} failed for survey {survey!r}{f' from {params.path}' if params.path else ''}"
    if params.for_radio and (params.path or params.region != "all"):  # as the CLI: never silently ignored
        raise BadInputError(f"{what}: for_radio sets the sky itself: give no region or path with it")
    try:  # a file parameter is opened and checked before anything is read or stored; read through it
        path = open_import_file(params.path) if params.path else None
    except ImportPathError as exc:
        raise BadInputError(f"{what}: {exc}") from exc
    try:
        definition, name = epoch_survey(survey, epoch)
        if params.for_radio:  # only over a radio catalogue's footprint; a task retry resumes the fetch
            from radiolake.ingest.for_radio import ingest_for_radio

            _, result = ingest_for_radio(definition, params.for_radio, name=name,
                                         mode=params.footprint_mode or "auto",
                                         radius_arcsec=params.fetch_radius_arcsec,
                                         allow_large_fetch=params.allow_large_fetch, say=log.info)
        else:
            result = ingest_survey(definition, region=params.region, rows=params.rows, seed=params.seed,
                                   path=path, name=name, max_bad_fraction=params.max_bad_fraction,
                                   allow_large_fetch=params.allow_large_fetch)
    except IngestError as exc:
        raise BadInputError(f"{what}: {exc}") from exc
    except Exception as exc:
        raise PipelineStepError(f"{what}: {exc}") from exc
    finally:
        if path is not None:
            path.close()
    summary = result.summary()
    log.info("%s: %s rows in catalogue %s (version %s), %s quarantined%s", step, result.n_rows, result.name,
             result.version, result.n_quarantined, " (unchanged input: reused)" if result.reused else "")
    return summary


def epoch_survey(survey: str, epoch: str | None) -> tuple[Any, str | None]:
    """(what to ingest, the catalogue name) for a survey and a radio epoch label (issue 22). An epoch goes to
    a catalogue of its own, `<survey>_<epoch>` (run_params.epoch_catalog), that grows region by region beside
    the other epochs' catalogues: a new epoch replaces nothing, and its runs supersede only runs of that
    epoch. Its ids get the epoch in their prefix (`<prefix>_<epoch>:...`): surveys that number or name rows
    the same way in each epoch would otherwise give two epochs' detections of a star one detection key.
    No epoch: the survey as it is, its own catalogue."""
    if not epoch:
        return survey, None
    import dataclasses

    from radiolake.surveys import get_survey

    definition = get_survey(survey)
    return dataclasses.replace(definition, id_prefix=f"{definition.id_prefix}_{epoch}"), epoch_catalog(survey, epoch)


def ingest_step(role: str, params: Mapping[str, Any] | None) -> dict:
    """The pipeline's radio (`role="radio"`) or stars ingest: the survey and file its form names; the radio
    ingest of a form with an `epoch` writes that epoch's catalogue."""
    try:
        survey, checked = IngestParams.for_role(role, params)
        epoch = check_values("pipeline", params)["epoch"] if role == "radio" else None
    except RunParamError as exc:
        raise BadInputError(f"ingest_{role}: {exc}") from exc
    return ingest_survey_step(survey, checked, f"ingest_{role}", epoch)


def crossmatch_step(radio: dict, stars: dict, params: Mapping[str, Any] | None, run_id: str) -> dict:
    from radiolake.crossmatch.runner import crossmatch_run_params, safe_run_id

    try:  # the versions this run's own ingest tasks produced (XCom), not whatever CURRENT is by now
        checked = CrossmatchParams.from_values("pipeline", params, radio=radio["catalog"], stars=stars["catalog"],
                                               run_id=safe_run_id(run_id))
    except RunParamError as exc:
        raise BadInputError(f"crossmatch: {exc}") from exc
    try:
        summary = crossmatch_run_params(checked, radio_version=radio.get("version"),
                                        stars_version=stars.get("version"))
    except Exception as exc:
        raise PipelineStepError(f"crossmatch failed for {radio['catalog']} x {stars['catalog']}: {exc}") from exc
    log.info("crossmatch %s: %s radio x %s stars -> %s pairs, %s radio sources matched, %.2f expected false "
             "matches; results in %s", summary["run_id"], summary.get("n_radio"), summary.get("n_stars"),
             summary.get("n_pairs"), summary.get("n_best"), summary.get("expected_false_matches") or 0.0,
             summary["prefix"])
    return {k: v for k, v in summary.items() if k != "stats"}


def load_step(xmatch: dict) -> dict:
    from radiolake.warehouse.load import load_run

    try:
        report = load_run(xmatch["prefix"], settings=get_settings())
    except Exception as exc:
        raise PipelineStepError(f"load failed for run {xmatch['run_id']} at {xmatch['prefix']}: {exc}") from exc
    log.info("load %s: %s", report.run_id, ", ".join(f"{t}={n}" for t, n in report.rows.items()))
    return {"run_id": report.run_id, "rows": report.rows}


def candidate_counts(run_id: str, settings: Settings | None = None) -> dict[str, int]:
    settings = settings or get_settings()
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = conn.execute("SELECT grade, count(*) FROM marts.radio_star_candidates WHERE run_id = %s "
                            "GROUP BY grade ORDER BY grade", (run_id,)).fetchall()
    return {grade: n for grade, n in rows}


def top_candidates(run_id: str | None = None, limit: int = 10, settings: Settings | None = None) -> list[dict]:
    """The best candidates of a run (default: the latest), as a user would query them."""
    settings = settings or get_settings()
    where, args = ("run_id = %s", (run_id,)) if run_id else ("is_latest_run", ())
    query = (f"SELECT * FROM marts.radio_star_candidates WHERE {where} "
             "ORDER BY grade, association_probability DESC NULLS LAST, p_chance, separation_arcsec LIMIT %s")
    with psycopg.connect(settings.warehouse_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(query, (*args, limit))
        return cur.fetchall()


#: Candidates listed in the run report's table.
CANDIDATE_TABLE_ROWS = 100
#: Stars drawn in the run report's light curves.
LIGHT_CURVE_STARS = 6


def top_star_detections(run_id: str, limit: int = LIGHT_CURVE_STARS, settings: Settings | None = None):
    """(stars, detections) DataFrames for the run report's light curves: the `limit` best stars the run
    detected (marts.radio_stars: star grade, then most detections, then association probability) and every
    detection of them over all surveys loaded (marts.radio_star_detections), not only this run's; a star is a
    physical star (radio_stars.star_id), its detections those of every catalogue star that is it."""
    import pandas as pd

    settings = settings or get_settings()
    stars_sql = (
        "SELECT star_id, star_grade, star_evidence, n_detections FROM marts.radio_stars "
        "WHERE star_id IN (SELECT physical_star_id FROM marts.radio_star_detections WHERE run_id = %s) "
        "ORDER BY star_grade, n_detections DESC, best_association_probability DESC, star_id LIMIT %s")
    detections_sql = (
        "SELECT physical_star_id AS star_id, survey, epoch_jyear, freq_mhz, flux_mjy, flux_error_mjy "
        "FROM marts.radio_star_detections WHERE physical_star_id = ANY(%s) AND counts_for_physical_star "
        "ORDER BY physical_star_id, epoch_jyear")
    with psycopg.connect(settings.warehouse_dsn) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(stars_sql, (run_id, limit))
        stars = pd.DataFrame(cur.fetchall(), columns=["star_id", "star_grade", "star_evidence", "n_detections"])
        cur.execute(detections_sql, (list(stars["star_id"]),))
        detections = pd.DataFrame(cur.fetchall(), columns=["star_id", "survey", "epoch_jyear", "freq_mhz",
                                                           "flux_mjy", "flux_error_mjy"])
    return stars, detections


def truth_scores(radio_catalog_path: str, run_id: str, settings: Settings | None = None) -> dict | None:
    """Completeness and purity of a synthetic run's candidates against the injected truth.

    completeness: share of injected radio stars whose candidate counterpart is their host star;
    purity: share of candidates (per grade, and all) that are injected pairs. None when the radio catalogue
    has no truth table (real surveys).
    """
    import pyarrow.parquet as pq

    from radiolake.ingest import catalog as cat
    from radiolake.lake import arrow_fs

    settings = settings or get_settings()
    fs = arrow_fs(settings)
    truth_path = f"{radio_catalog_path.rstrip('/')}/truth.parquet"
    if not cat.exists(fs, truth_path):
        return None
    truth = pq.read_table(truth_path, filesystem=fs, columns=["radio_id", "star_id"]).to_pylist()
    true_pairs = {(t["radio_id"], t["star_id"]) for t in truth}
    with psycopg.connect(settings.warehouse_dsn) as conn:
        rows = conn.execute("SELECT radio_id, star_id, grade FROM marts.radio_star_candidates WHERE run_id = %s",
                            (run_id,)).fetchall()
    found = {(r, s) for r, s, _ in rows}
    scores: dict[str, Any] = {
        "injected": len(true_pairs),
        "candidates": len(rows),
        "completeness": len(true_pairs & found) / len(true_pairs) if true_pairs else None,
        "purity": len(true_pairs & found) / len(found) if found else None,
    }
    for grade in sorted({g for _, _, g in rows}):
        graded = {(r, s) for r, s, g in rows if g == grade}
        scores[f"purity_{grade}"] = len(true_pairs & graded) / len(graded)
        scores[f"completeness_{grade}"] = len(true_pairs & graded) / len(true_pairs) if true_pairs else None
    return scores


def _catalog_sample(fs, path: str, columns: list[str], limit: int = 300_000):
    """Up to `limit` rows of the committed catalogue whose version folder is `path` (for pictures only)."""
    from radiolake.ingest import catalog as cat

    base = path.rstrip("/").rsplit("/versions/", 1)[0]
    dataset = cat.catalog_dataset(fs, base)
    return dataset.head(limit, columns=[c for c in columns if c in dataset.schema.names]).to_pandas()


def _results_table(fs, prefix: str, name: str):
    import pyarrow.parquet as pq

    from radiolake.spark.io import strip_scheme

    return pq.read_table(f"{strip_scheme(prefix).rstrip('/')}/{name}", filesystem=fs).to_pandas()


def report_pictures(radio: dict, stars: dict, xmatch: dict,
                    settings: Settings) -> tuple[dict[str, bytes], list[dict]]:
    """Sky map, coverage map of the radio catalogue so far, colour-magnitude diagram and separation histogram
    of a run, from the lake; light curves of
    its top stars from the warehouse marts (built before the report), drawn only for stars with two or more
    epochs. Returns the figures and the detections of the top stars with a single epoch (a table row each)."""
    from radiolake.lake import arrow_fs
    from radiolake.reports.coverage_map import run_coverage_map
    from radiolake.reports.plots import (
        cmd,
        light_curve_figure,
        reliability_diagram,
        separation_histogram_from_stats,
        sky_map,
    )
    from radiolake.reports.prepare import light_curves, split_by_epochs

    fs = arrow_fs(settings)
    star_cols = ["ra", "dec", "parallax", "parallax_error", "phot_g_mean_mag", "bp_rp", "phot_bp_mean_mag",
                 "phot_rp_mean_mag"]
    radio_all = _catalog_sample(fs, radio["path"], ["ra", "dec"])
    field = _catalog_sample(fs, stars["path"], star_cols)
    best = _results_table(fs, xmatch["prefix"], "best")
    matched_stars = _results_table(fs, xmatch["prefix"], "stars")
    matched_radio = _results_table(fs, xmatch["prefix"], "radio_sources")[["source_id", "ra", "dec"]]
    candidates = (best.merge(matched_radio.rename(columns={"source_id": "radio_id"}), on="radio_id")
                  .merge(matched_stars.drop(columns=["ra", "dec"]).rename(columns={"source_id": "star_id"}),
                         on="star_id", how="left"))
    offset_stats = _results_table(fs, xmatch["prefix"], "offset_stats")
    figures = {"sky_map": sky_map(radio_all, candidates, field),
               "coverage_map": run_coverage_map(fs, radio["path"], xmatch.get("prefix")),
               "cmd": cmd(candidates, field)}
    if not offset_stats.empty and int(offset_stats["n_offsets"].iloc[0]) > 0:
        figures["separation_histogram"] = separation_histogram_from_stats(
            best["separation_arcsec"].to_numpy(float), offset_stats)
    truth = _truth_pairs(fs, radio["path"])
    if truth is not None:
        figures["reliability"] = reliability_diagram(
            reliability_from_truth(_results_table(fs, xmatch["prefix"], "pairs"), truth))
    top_stars, detections = top_star_detections(xmatch["run_id"], LIGHT_CURVE_STARS, settings)
    plotted, single = split_by_epochs(light_curves(detections, top_stars)) if len(detections) else ([], [])
    if plotted:
        figures["light_curves"] = light_curve_figure(plotted)
    single_ids = {curve.star_id for curve in single}
    single_rows = detections[detections["star_id"].isin(single_ids)].to_dict("records") if single_ids else []
    return figures, single_rows


def _truth_pairs(fs, radio_catalog_path: str):
    """The injected truth (radio_id, star_id) of a synthetic radio catalogue; None for real surveys."""
    import pyarrow.parquet as pq

    from radiolake.ingest import catalog as cat

    path = f"{radio_catalog_path.rstrip('/')}/truth.parquet"
    if not cat.exists(fs, path):
        return None
    return pq.read_table(path, filesystem=fs, columns=["radio_id", "star_id"]).to_pandas()


def reliability_from_truth(pairs, truth) -> dict:
    """Reliability curves of a run's pairs (all of them, not only the best) against the injected truth: of
    every pair ('all') and of each population's pairs (issue 21: the posterior must hold for each)."""
    from radiolake.crossmatch.likelihood import reliability_curve

    is_true = pairs.merge(truth.assign(_true=True), on=["radio_id", "star_id"], how="left")["_true"].notna()
    prob, is_true = pairs["association_probability"].to_numpy(float), is_true.to_numpy()
    curves = {"all": reliability_curve(prob, is_true)}
    if "population" in pairs:
        population = pairs["population"].to_numpy(object)
        for name in sorted({p for p in population if isinstance(p, str)}):
            sel = population == name
            curves[name] = reliability_curve(prob[sel], is_true[sel])
    return curves


def report_step(radio: dict, stars: dict, xmatch: dict, params: Mapping[str, Any] | None = None,
                settings: Settings | None = None) -> dict:
    """Counts, truth scores (synthetic skies) and pictures of the run, published to the reports bucket."""
    from radiolake.reports.summary import RunCounts, build_run_summary, publish_report

    settings = settings or get_settings()
    run_id = xmatch["run_id"]
    grades = candidate_counts(run_id, settings)
    scores = truth_scores(radio["path"], run_id, settings)
    log.info("run %s: candidates per grade %s", run_id, grades)
    if scores:
        log.info("injected-truth scores: completeness %.3f, purity %.3f over %d injected radio stars",
                 scores["completeness"] or 0.0, scores["purity"] or 0.0, scores["injected"])
    for row in top_candidates(run_id, 5, settings):
        log.info("  candidate %s -> %s: %.2f\" p_chance=%.2g P(assoc)=%s grade %s", row["radio_id"], row["star_id"],
                 row["separation_arcsec"], row["p_chance"], row.get("association_probability"), row["grade"])
    counts = RunCounts(
        rows_in={radio["catalog"]: radio.get("rows") or 0, stars["catalog"]: stars.get("rows") or 0},
        quarantined={radio["catalog"]: radio.get("quarantined") or 0, stars["catalog"]: stars.get("quarantined") or 0},
        n_pairs=int(xmatch.get("n_pairs") or 0), n_best=int(xmatch.get("n_best") or 0),
        candidates_by_grade=grades, expected_false_matches=float(xmatch.get("expected_false_matches") or 0.0))
    try:
        figures, single_detections = report_pictures(radio, stars, xmatch, settings)
        markdown, html = build_run_summary(run_id, counts, figures, dict(params or {}),
                                           candidates=top_candidates(run_id, CANDIDATE_TABLE_ROWS, settings),
                                           single_detections=single_detections)
        uris = publish_report(run_id, figures, (markdown, html), settings)
    except Exception as exc:
        raise PipelineStepError(f"report failed for run {run_id}: {exc}") from exc
    log.info("run summary (%s):\n%s", uris[-1], markdown)
    return {"run_id": run_id, "candidates_per_grade": grades, "truth": scores, "report": uris[-1],
            "objects": uris}
