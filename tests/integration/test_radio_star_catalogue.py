"""The star-level catalogue (marts radio_stars, radio_star_detections) in the real warehouse: two radio
surveys, an older run superseded by a newer one of the same survey, reruns and reloads. Counts, fluxes,
polarisation and variability are checked against values computed here from the rows loaded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
import pytest
from astropy import units as u
from astropy.coordinates import Latitude, Longitude
from cdshealpix import nested

from radiolake.crossmatch.populations import classes_of, population_names
from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from radiolake.run_params import dbt_check_runs_vars
from radiolake.schema import CANONICAL_SCHEMA, HEALPIX_ORDER, STANDARD_EXTRA_FIELDS, coarse_pixel
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.load import load_run
from radiolake.warehouse.sample_run import write_results

pytestmark = pytest.mark.integration

STAR_CATALOG = "it_cat_stars"  # names of their own: latest-run flags and star ids belong to this module
RACS, VLASS = "it_cat_racs", "it_cat_vlass"
SELECT = "+radio_star_detections +radio_stars"
SOURCE_SCHEMA = pa.schema([*CANONICAL_SCHEMA, *STANDARD_EXTRA_FIELDS, pa.field("survey", pa.string())])
DENSITY_DEG2 = 1000.0
REGION_ORDER = 3

# Stars: parallax (mas) and error, G, BP, RP. No bp_rp column value: the marts must compute BP - RP.
STARS = {
    "s1": dict(ra=150.0, dec=20.0, parallax=50.0, parallax_error=0.1, g=9.0, bp=9.6, rp=8.2, pmra=300.0,
               pmdec=-400.0),
    "s2": dict(ra=150.1, dec=20.1, parallax=10.0, parallax_error=0.2, g=11.0, bp=11.4, rp=10.5, pmra=5.0,
               pmdec=2.0),
    "s3": dict(ra=150.2, dec=20.2, parallax=0.5, parallax_error=0.5, g=12.0, bp=12.5, rp=11.3, pmra=None,
               pmdec=None),
}

# Detections per run: radio id, star, separation (arcsec), epoch, MHz, Stokes I (mJy), its error, Stokes V
# peak (mJy/beam) and its error. s3's match is far and in a dense field: a grade-C candidate.
RUNS = {
    "it-cat-racs-old": dict(survey=RACS, created="2025-01-01T00:00:00+00:00", rows=[
        ("1", "s1", 0.4, 2019.5, 887.5, 2.5, 0.2, None, None),  # superseded by the newer run's value
        ("3", "s2", 0.6, 2019.5, 887.5, 7.0, 0.2, None, None),  # only in the old run: must vanish
    ]),
    "it-cat-racs-new": dict(survey=RACS, created="2025-06-01T00:00:00+00:00", rows=[
        ("1", "s1", 0.4, 2019.5, 887.5, 2.0, 0.2, 0.8, 0.1),  # |V|/I = 0.4 at S/N 8
        ("4", "s1", 0.5, 2021.0, 887.5, 6.0, 0.2, 0.1, 0.1),  # V not detected (S/N 1)
        ("2", "s2", 0.6, 2019.5, 887.5, 5.0, 0.2, 0.05, 0.1),
        ("5", "s3", 4.5, 2019.5, 887.5, 3.0, 0.2, None, None),
    ]),
    "it-cat-vlass": dict(survey=VLASS, created="2025-03-01T00:00:00+00:00", rows=[
        ("1", "s1", 0.3, 2020.1, 3000.0, 1.0, 0.15, None, None),
        ("2", "s2", 0.3, 2020.1, 3000.0, 4.0, 0.15, None, None),
    ]),
}


def _healpix(ra, dec):
    return nested.lonlat_to_healpix(Longitude(np.atleast_1d(ra) * u.deg), Latitude(np.atleast_1d(dec) * u.deg),
                                    HEALPIX_ORDER).astype(np.int64)


def population_of(s: dict) -> str:
    """The population the cross-match gives the star (crossmatch/populations.py)."""
    cols = {"parallax": s["parallax"], "parallax_error": s["parallax_error"], "pmra": s["pmra"], "pmdec": s["pmdec"],
            "phot_g_mean_mag": s["g"]}
    return str(population_names(classes_of({k: np.array([np.nan if v is None else v], float)
                                            for k, v in cols.items()}, 1))[0])


def run_tables(run_id: str, spec: dict) -> tuple[dict[str, pa.Table], dict]:
    """One cross-match results folder: every radio row's best (only) star is the given one."""
    survey, radio, pairs, used = spec["survey"], [], [], {}
    for rid, star, sep, epoch, freq, flux, err, v, v_err in spec["rows"]:
        s = STARS[star]
        ra, dec = s["ra"] + sep / 3600.0, s["dec"]  # sep along RA is ~sep cos(dec): fine for the marts
        radio_id = f"{survey}:{rid}"
        radio.append(dict(source_id=radio_id, ra=ra, dec=dec, ra_error=1.0, dec_error=1.0, epoch=epoch,
                          healpix=int(_healpix(ra, dec)[0]), flux_peak_mjy=flux, flux_int_mjy=flux,
                          flux_error_mjy=err, freq_mhz=freq, flux_v_peak_mjy=v, flux_v_error_mjy=v_err,
                          survey=survey))
        density = 50_000.0 if star == "s3" else DENSITY_DEG2
        pairs.append(dict(run_id=run_id, radio_id=radio_id, star_id=f"{STAR_CATALOG}:{star}",
                          separation_arcsec=sep, separation_sigma=sep / 1.0, dt_years=epoch - 2016.0,
                          pm_applied=s["pmra"] is not None, rank=1, star_density_deg2=density,
                          p_chance=float(-np.expm1(-np.pi * (sep / 3600.0) ** 2 * density)),
                          association_probability=float(np.exp(-np.pi * (sep / 3600.0) ** 2 * density)),
                          star_ra_at_epoch=s["ra"], star_dec_at_epoch=s["dec"], population=population_of(s)))
        used[star] = s
    stars = [dict(source_id=f"{STAR_CATALOG}:{k}", ra=s["ra"], dec=s["dec"], ra_error=0.001, dec_error=0.001,
                  epoch=2016.0, pmra=s["pmra"], pmdec=s["pmdec"], parallax=s["parallax"],
                  parallax_error=s["parallax_error"], healpix=int(_healpix(s["ra"], s["dec"])[0]),
                  phot_g_mean_mag=s["g"], phot_bp_mean_mag=s["bp"], phot_rp_mean_mag=s["rp"], bp_rp=None,
                  survey=STAR_CATALOG) for k, s in used.items()]
    return run_files(run_id, spec["created"], survey, STAR_CATALOG, radio, stars, pairs)


def run_files(run_id: str, created: str, radio_catalog: str, star_catalog: str, radio: list[dict],
              stars: list[dict], pairs: list[dict]) -> tuple[dict[str, pa.Table], dict]:
    """A run's result tables and run.json around its rows: every pair is its source's best match, and each
    radio pixel gets the same offset-sky statistics (0.3 expected chance matches)."""
    pixels = sorted({int(coarse_pixel(r["healpix"], REGION_ORDER)) for r in radio})
    offsets = [dict(run_id=run_id, region_order=REGION_ORDER, region_pixel=p, radius_arcsec=5.0, n_offsets=10,
                    n_radio=100, false_matches_total=3, expected_false_matches=0.3) for p in pixels]
    tables = {
        "radio_sources": pa.Table.from_pylist(radio, schema=SOURCE_SCHEMA),
        "stars": pa.Table.from_pylist(stars, schema=SOURCE_SCHEMA),
        "pairs": pa.Table.from_pylist(pairs, schema=PAIRS_SCHEMA),
        "best": pa.Table.from_pylist(pairs, schema=PAIRS_SCHEMA),
        "offset_stats": pa.Table.from_pylist(offsets, schema=OFFSET_STATS_SCHEMA),
    }
    run = {"run_id": run_id, "created_utc": created, "radio_catalog": radio_catalog, "star_catalog": star_catalog,
           "radius_arcsec": 5.0, "n_sigma": None, "n_offsets": 10, "offset_arcmin": 3.0,
           "n_radio": 100 * len(pixels), "n_stars": 1000, "n_pairs": len(pairs), "n_best": len(pairs),
           "expected_false_matches": 0.3 * len(pixels)}
    return tables, run


def query(dsn: str, sql: str, params=()) -> pd.DataFrame:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def catalogue(dsn: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    stars = query(dsn, "SELECT * FROM marts.radio_stars WHERE star_id LIKE %s", (f"{STAR_CATALOG}:%",))
    detections = query(dsn, "SELECT * FROM marts.radio_star_detections WHERE star_id LIKE %s",
                       (f"{STAR_CATALOG}:%",))
    return stars.set_index("star_id"), detections.set_index("detection_key")


@pytest.fixture(scope="module")
def loaded(stack, tmp_path_factory):
    """The three runs loaded (the newer RACS run first, the older after it), the VLASS run rerun, then built."""
    dsn = stack.settings.warehouse_dsn
    folders = {}
    for run_id in ("it-cat-racs-new", "it-cat-racs-old", "it-cat-vlass"):
        tables, run = run_tables(run_id, RUNS[run_id])
        folders[run_id] = write_results(str(tmp_path_factory.mktemp(run_id)), tables, run)
        load_run(folders[run_id], dsn=dsn)
    load_run(folders["it-cat-vlass"], dsn=dsn)  # a rerun of the same run
    work = tmp_path_factory.mktemp("dbt")
    result = dbt_runner.build(settings=stack.settings, work_dir=work)  # tests reach other marts
    return folders, result, work


def test_build_and_catalogue_tests_pass(loaded):
    _, result, _ = loaded
    statuses = result.statuses()
    assert set(statuses.values()) <= {"success", "pass"}
    for model in ("radio_stars", "radio_star_detections"):
        assert statuses[f"model.radiolake.{model}"] == "success"
    assert any("assert_radio_star_grades_follow_rules" in k for k in statuses)
    # one row per (star, radio source): a unique index, checked present by this test
    assert statuses["test.radiolake.assert_mart_keys_have_unique_indexes"] == "pass"


def test_one_row_per_detection_newer_run_supersedes(stack, loaded):
    stars, det = catalogue(stack.settings.warehouse_dsn)
    expected_keys = {f"{STAR_CATALOG}:{star}|{RUNS[r]['survey']}:{rid}"
                     for r in ("it-cat-racs-new", "it-cat-vlass") for rid, star, *_ in RUNS[r]["rows"]}
    assert set(det.index) == expected_keys  # the old run's radio source 3 is gone, nothing is doubled
    assert len(det) == 6
    assert set(det.loc[det["survey"] == RACS, "run_id"]) == {"it-cat-racs-new"}
    assert det.loc[f"{STAR_CATALOG}:s1|{RACS}:1", "flux_mjy"] == pytest.approx(2.0)  # the newer value
    assert stars.loc[f"{STAR_CATALOG}:s1", "n_detections"] == 3
    assert stars.loc[f"{STAR_CATALOG}:s2", "n_detections"] == 2
    assert stars.loc[f"{STAR_CATALOG}:s3", "n_detections"] == 1
    assert stars["n_detections"].sum() == len(det)


def test_star_summary_columns(stack, loaded):
    stars, det = catalogue(stack.settings.warehouse_dsn)
    s1 = stars.loc[f"{STAR_CATALOG}:s1"]
    assert s1["n_surveys"] == 2 and s1["surveys"] == f"{RACS},{VLASS}"
    assert (s1["freq_min_mhz"], s1["freq_max_mhz"]) == (887.5, 3000.0)
    assert (s1["first_epoch_jyear"], s1["last_epoch_jyear"]) == (2019.5, 2021.0)
    assert (s1["flux_min_mjy"], s1["flux_max_mjy"]) == (1.0, 6.0)
    assert s1["flux_max_min_ratio"] == pytest.approx(6.0)
    assert s1["distance_pc"] == pytest.approx(20.0)
    assert s1["bp_rp_mag"] == pytest.approx(9.6 - 8.2)  # computed: the catalogue has no colour column
    assert s1["abs_g_mag"] == pytest.approx(9.0 + 5 * np.log10(50.0 / 100.0))
    assert s1["pm_total_mas_yr"] == pytest.approx(500.0)
    lum = (4 * np.pi * (20.0 * u.pc) ** 2 * 6.0 * u.mJy).to_value(u.erg / u.s / u.Hz)
    assert s1["max_radio_luminosity_erg_s_hz"] == pytest.approx(lum, rel=1e-9)
    p_best = np.exp(-np.pi * (0.3 / 3600.0) ** 2 * DENSITY_DEG2)  # as written for the closest detection
    assert s1["best_association_probability"] == pytest.approx(p_best, rel=1e-12)
    assert pd.isna(stars.loc[f"{STAR_CATALOG}:s3", "distance_pc"])  # parallax S/N 1: no distance


def test_polarisation_and_variability_evidence(stack, loaded):
    stars, det = catalogue(stack.settings.warehouse_dsn)
    d1 = det.loc[f"{STAR_CATALOG}:s1|{RACS}:1"]
    assert d1["circular_polarisation_fraction"] == pytest.approx(0.4)
    assert d1["circular_polarisation_fraction_error"] == pytest.approx(np.hypot(0.1, 0.4 * 0.2) / 2.0)
    assert d1["stokes_v_snr"] == pytest.approx(8.0)
    s1, s2 = stars.loc[f"{STAR_CATALOG}:s1"], stars.loc[f"{STAR_CATALOG}:s2"]
    # Only the S/N 8 value counts: the S/N 1 one (|V|/I = 0.017) is not a detection of V.
    assert s1["n_circular_polarisation_detections"] == 1 and s1["has_high_circular_polarisation"]
    assert s2["n_circular_polarisation_detections"] == 0 and not s2["has_high_circular_polarisation"]
    # Variability at 887.5 MHz (two detections): 2.0 and 6.0 mJy, errors 0.2 plus 5 % in quadrature.
    flux, err = np.array([2.0, 6.0]), np.hypot(0.2, 0.05 * np.array([2.0, 6.0]))
    w = 1 / err**2
    eta = np.sum(w * (flux - np.sum(w * flux) / np.sum(w)) ** 2) / (len(flux) - 1)
    m = np.std(flux, ddof=1) / flux.mean()
    assert s1["variability_freq_mhz"] == 887.5 and s1["variability_n_detections"] == 2
    assert s1["flux_variability_eta"] == pytest.approx(eta)
    assert s1["flux_modulation_index"] == pytest.approx(m)
    assert s1["flux_modulation_index_error"] == pytest.approx(m / np.sqrt(2))
    assert s1["max_flux_ratio_same_freq"] == pytest.approx(3.0) and s1["is_variable"]
    assert s1["star_evidence"] == "circular_polarisation+variability"
    # s2: one detection per frequency: no variability measured (4 vs 5 mJy are two frequencies).
    assert pd.isna(s2["flux_variability_eta"]) and not s2["is_variable"] and s2["star_evidence"] == "none"


def test_star_grade_follows_candidate_grades_and_evidence(stack, loaded):
    dsn = stack.settings.warehouse_dsn
    stars, det = catalogue(dsn)
    for star_id, row in stars.iterrows():
        best = min(det.loc[det["star_id"] == star_id, "grade"])
        secure = best in ("A", "B")
        evidence = row["has_high_circular_polarisation"] or row["is_variable"]
        assert row["star_grade"] == ("A" if secure and evidence else "B" if secure else "C")
    assert det.loc[f"{STAR_CATALOG}:s3|{RACS}:5", "grade"] == "C"  # 4.5" in a dense field
    assert stars.loc[f"{STAR_CATALOG}:s3", "star_grade"] == "C"
    assert stars.loc[f"{STAR_CATALOG}:s1", "star_grade"] == "A"


def test_reloading_and_rebuilding_changes_nothing(stack, loaded):
    folders, _, work = loaded
    dsn = stack.settings.warehouse_dsn
    before_stars, before_det = catalogue(dsn)
    load_run(folders["it-cat-racs-old"], dsn=dsn)  # the old run loaded again, after the new one: still old
    load_run(folders["it-cat-racs-new"], dsn=dsn)
    dbt_runner.run_dbt(["run", "--select", SELECT], settings=stack.settings, work_dir=work)
    after_stars, after_det = catalogue(dsn)
    assert sorted(after_det.index) == sorted(before_det.index)
    cols = ["n_detections", "n_surveys", "flux_min_mjy", "flux_max_mjy", "star_grade"]
    pd.testing.assert_frame_equal(after_stars.sort_index()[cols], before_stars.sort_index()[cols])


def test_report_light_curves_of_the_top_stars(stack, loaded):
    """The run report's light-curve data: the run's best stars first, with their detections of every survey."""
    from radiolake.app.pipeline import top_star_detections
    from radiolake.reports.plots import light_curve_figure
    from radiolake.reports.prepare import light_curves

    stars, detections = top_star_detections("it-cat-racs-new", 2, stack.settings)
    assert list(stars["star_id"])[0] == f"{STAR_CATALOG}:s1"  # the only star graded A
    assert len(stars) == 2
    curves = light_curves(detections, stars)
    s1 = curves[0]
    assert {f: list(df["flux_mjy"]) for f, df in s1.by_freq.items()} == {887.5: [2.0, 6.0], 3000.0: [1.0]}
    assert light_curve_figure(curves)[:8] == b"\x89PNG\r\n\x1a\n"


def test_analyst_reads_the_catalogue(stack, loaded):
    with psycopg.connect(stack.analyst_dsn) as conn:
        n_stars = conn.execute("SELECT count(*) FROM marts.radio_stars WHERE star_id LIKE %s",
                               (f"{STAR_CATALOG}:%",)).fetchone()[0]
        n_det = conn.execute("SELECT count(*) FROM marts.radio_star_detections WHERE star_id LIKE %s",
                             (f"{STAR_CATALOG}:%",)).fetchone()[0]
    assert (n_stars, n_det) == (3, 6)


def _grade_rules_test(stack, work, check_runs: list[str] | None) -> list[str]:
    """Failures of the grade-rules test, checking `check_runs` (all runs if None)."""
    vars = dbt_check_runs_vars(check_runs) if check_runs else None
    try:
        dbt_runner.run_dbt(["test", "--select", "assert_radio_star_grades_follow_rules"],
                           settings=stack.settings, vars=vars, work_dir=work)
    except dbt_runner.DbtError as error:
        return error.failures
    return []


def test_grade_rules_test_catches_a_wrong_grade_and_a_star_without_detections(stack, loaded):
    """The grade-rules test bites, scoped to the runs that detected the broken star and unscoped."""
    _, _, work = loaded
    dsn = stack.settings.warehouse_dsn
    s3, ghost = f"{STAR_CATALOG}:s3", f"{STAR_CATALOG}:ghost"  # s3: graded C, detected by racs-new only
    with psycopg.connect(dsn) as conn:
        conn.execute("UPDATE marts.radio_stars SET star_grade = 'A' WHERE star_id = %s", (s3,))
    try:
        assert _grade_rules_test(stack, work, ["it-cat-vlass"]) == []  # s3 is not a star of this run
        for scope in (["it-cat-racs-new"], None):
            failures = _grade_rules_test(stack, work, scope)
            assert len(failures) == 1 and "assert_radio_star_grades_follow_rules" in failures[0]
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("UPDATE marts.radio_stars SET star_grade = 'C' WHERE star_id = %s", (s3,))
    assert _grade_rules_test(stack, work, None) == []
    with psycopg.connect(dsn) as conn:  # a star row no detection supports: only the full check sees it
        conn.execute("CREATE TEMPORARY TABLE ghost AS SELECT * FROM marts.radio_stars WHERE star_id = %s", (s3,))
        conn.execute("UPDATE ghost SET star_id = %s", (ghost,))
        conn.execute("INSERT INTO marts.radio_stars SELECT * FROM ghost")
    try:
        assert _grade_rules_test(stack, work, ["it-cat-racs-new"]) == []
        assert len(_grade_rules_test(stack, work, None)) == 1
    finally:
        with psycopg.connect(dsn) as conn:
            conn.execute("DELETE FROM marts.radio_stars WHERE star_id = %s", (ghost,))


def test_quotable_counts_luminosities_and_circular_polarisation(stack, loaded):
    """issue 21: detections counted above the stated probability, L_nu per band, |V|/I with its own error
    and S/N from one detection, and the thresholds stated in the rows."""
    stars, det = catalogue(stack.settings.warehouse_dsn)
    s1, s2, s3 = (stars.loc[f"{STAR_CATALOG}:{k}"] for k in ("s1", "s2", "s3"))
    assert (stars["secure_detection_min_probability"] == 0.8).all()
    # s3's one detection: P = exp(-pi r^2 rho) at 4.5" in 50 000 stars/deg^2 = 0.78, below 0.8: not counted
    assert det.loc[f"{STAR_CATALOG}:s3|{RACS}:5", "association_probability"] < 0.8
    assert (s1["n_secure_detections"], s2["n_secure_detections"], s3["n_secure_detections"]) == (3, 2, 0)

    def lum(pc: float, mjy: float) -> float:
        return (4 * np.pi * (pc * u.pc) ** 2 * mjy * u.mJy).to_value(u.erg / u.s / u.Hz)

    bands = ["lt300mhz", "300_1000mhz", "1_2ghz", "2_4ghz", "ge4ghz"]
    expected = {"s1": {"300_1000mhz": lum(20.0, 6.0), "2_4ghz": lum(20.0, 1.0)},  # RACS 887.5, VLASS 3000 MHz
                "s2": {"300_1000mhz": lum(100.0, 5.0), "2_4ghz": lum(100.0, 4.0)}}
    for star, by_band in expected.items():
        row = stars.loc[f"{STAR_CATALOG}:{star}"]
        for band in bands:
            value = row[f"radio_luminosity_{band}_erg_s_hz"]
            if band in by_band:
                assert value == pytest.approx(by_band[band], rel=1e-9), (star, band)
            else:
                assert pd.isna(value), (star, band)
    assert all(pd.isna(s3[f"radio_luminosity_{b}_erg_s_hz"]) for b in bands)  # no distance
    # |V|/I of s1: the S/N 8 detection (0.8 +- 0.1 mJy on 2.0 +- 0.2 mJy); its own error and S/N with it.
    assert (stars["circular_polarisation_min_snr"] == 5).all()
    assert s1["max_circular_polarisation_fraction"] == pytest.approx(0.4)
    assert s1["max_circular_polarisation_fraction_error"] == pytest.approx(np.hypot(0.1, 0.4 * 0.2) / 2.0)
    assert s1["max_circular_polarisation_snr"] == pytest.approx(8.0)
    assert pd.isna(s2["max_circular_polarisation_snr"])  # |V| = 0.05 +- 0.1 mJy: not detected


# --- One row per physical star (issue 21) -------------------------------------------------------------------
# A sky where one star is in Gaia DR3 (G1, J2016.0) and in Hipparcos (H1, J1991.25: 27" from G1 until its
# proper motion is applied), with a Gaia duplicated source of it (G2, 0.3" away, same G and parallax), and a
# decoy: a Hipparcos star (H2) 0.4" from a Gaia star (G3) whose parallax disagrees (a different star).
# Radio: one radio source (R1) is matched to G1 in the Gaia run and to H1 in the Hipparcos run (one detection
# of the star), H1 and G2 have one more each. The Hipparcos run is loaded after a first build: the merge
# happens in an incremental build.
PHYS_GAIA, PHYS_HIP, PHYS_RADIO = "it_phys_gaia", "it_phys_hip", "it_phys_racs"
G1, G2, G3 = "gaia_dr3:990000000000000001", "gaia_dr3:990000000000000002", "gaia_dr3:990000000000000003"
H1, H2 = "hip2:990001", "hip2:990002"
PM = (1000.0, -500.0)  # mas/yr of G1/H1/G2
DT_HIP = 2016.0 - 1991.25
_DEC0 = -60.0


def _at(ra: float, dec: float, dra_arcsec: float = 0.0, ddec_arcsec: float = 0.0) -> tuple[float, float]:
    return ra + dra_arcsec / 3600.0 / np.cos(np.radians(dec)), dec + ddec_arcsec / 3600.0


PHYS_STARS = {  # id: (ra, dec, epoch, pmra, pmdec, parallax, parallax_error, G)
    G1: (*_at(300.0, _DEC0), 2016.0, *PM, 40.0, 0.05, 8.0),
    G2: (*_at(300.0, _DEC0, 0.3), 2016.0, *PM, 40.02, 0.3, 8.05),
    # H1 where G1 was at J1991.25 (pm * dt back), 0.2" off, with Hipparcos errors and its Hp for G.
    H1: (*_at(300.0, _DEC0, -PM[0] * DT_HIP / 1000.0 - 0.2, -PM[1] * DT_HIP / 1000.0), 1991.25, *PM, 39.0, 0.9,
         8.3),
    G3: (*_at(300.1, _DEC0), 2016.0, 5.0, 5.0, 100.0, 0.1, 9.0),
    H2: (*_at(300.1, _DEC0, 0.4), 1991.25, 5.0, 5.0, 10.0, 1.0, 9.2),
}
PHYS_RUNS = {  # run: (star catalogue, created, [(radio id, star, epoch, flux mJy)])
    "it-phys-gaia": (PHYS_GAIA, "2025-02-01T00:00:00+00:00", [("1", G1, 2020.0, 3.0), ("7", G2, 2022.0, 4.0),
                                                               ("5", G3, 2020.0, 2.0)]),
    "it-phys-hip": (PHYS_HIP, "2025-02-02T00:00:00+00:00", [("1", H1, 2020.0, 3.0), ("4", H1, 2021.0, 5.0),
                                                             ("6", H2, 2020.0, 2.5)]),
}


def phys_run_tables(run_id: str) -> tuple[dict[str, pa.Table], dict]:
    star_catalog, created, rows = PHYS_RUNS[run_id]
    radio, pairs, used = [], [], {}
    for rid, star, epoch, flux in rows:
        ra, dec, *_ = PHYS_STARS[star]
        radio_id = f"{PHYS_RADIO}:{rid}"
        radio.append(dict(source_id=radio_id, ra=ra, dec=dec, ra_error=1.0, dec_error=1.0, epoch=epoch,
                          healpix=int(_healpix(ra, dec)[0]), flux_peak_mjy=flux, flux_int_mjy=flux,
                          flux_error_mjy=0.2, freq_mhz=887.5, flux_v_peak_mjy=None, flux_v_error_mjy=None,
                          survey=PHYS_RADIO))
        _, _, _, pmra, pmdec, plx, plx_err, g = PHYS_STARS[star]
        population = population_of(dict(parallax=plx, parallax_error=plx_err, pmra=pmra, pmdec=pmdec, g=g))
        pairs.append(dict(run_id=run_id, radio_id=radio_id, star_id=star, separation_arcsec=0.3,
                          separation_sigma=0.3, dt_years=epoch - 2016.0, pm_applied=True, rank=1,
                          star_density_deg2=DENSITY_DEG2, p_chance=0.01, association_probability=0.99,
                          star_ra_at_epoch=ra, star_dec_at_epoch=dec, population=population))
        used[star] = PHYS_STARS[star]
    stars = [dict(source_id=k, ra=ra, dec=dec, ra_error=0.001, dec_error=0.001, epoch=ep, pmra=pmra, pmdec=pmdec,
                  parallax=plx, parallax_error=plx_err, healpix=int(_healpix(ra, dec)[0]), phot_g_mean_mag=g,
                  phot_bp_mean_mag=None, phot_rp_mean_mag=None, bp_rp=None, survey=star_catalog)
             for k, (ra, dec, ep, pmra, pmdec, plx, plx_err, g) in used.items()]
    return run_files(run_id, created, PHYS_RADIO, star_catalog, radio, stars, pairs)


@pytest.fixture(scope="module")
def physical(stack, loaded, tmp_path_factory):
    """The Gaia run built alone first, then the Hipparcos run loaded and built (incrementally)."""
    dsn = stack.settings.warehouse_dsn
    _, _, work = loaded
    before = None
    for run_id in ("it-phys-gaia", "it-phys-hip"):
        tables, run = phys_run_tables(run_id)
        load_run(write_results(str(tmp_path_factory.mktemp(run_id)), tables, run), dsn=dsn)
        result = dbt_runner.build(settings=stack.settings, work_dir=work)
        assert set(result.statuses().values()) <= {"success", "pass"}
        if before is None:
            before = query(dsn, "SELECT star_id, catalogue_star_ids, n_detections FROM marts.radio_stars "
                           "WHERE star_id = ANY(%s)", (list(PHYS_STARS),)).set_index("star_id")
    stars = query(dsn, "SELECT * FROM marts.radio_stars WHERE star_id = ANY(%s)", (list(PHYS_STARS),))
    detections = query(dsn, "SELECT * FROM marts.radio_star_detections WHERE star_id = ANY(%s)",
                       (list(PHYS_STARS),))
    return before, stars.set_index("star_id"), detections


def test_gaia_duplicate_is_one_star_before_hipparcos_arrives(physical):
    before, _, _ = physical
    assert sorted(before.index) == [G1, G3]
    assert before.loc[G1, "catalogue_star_ids"] == f"{G1},{G2}" and before.loc[G1, "n_detections"] == 2


def test_a_star_in_gaia_and_hipparcos_is_one_row_with_both_ids_and_all_detections(physical):
    _, stars, detections = physical
    # G1, its duplicate G2 and H1 (27" away at J1991.25, 0.2" once moved to J2016.0) are one star; the
    # decoy pair (parallaxes 100 and 10 mas) stays two stars.
    assert sorted(stars.index) == sorted([G1, G3, H2])
    g1 = stars.loc[G1]
    assert g1["catalogue_star_ids"] == f"{G1},{G2},{H1}" and g1["n_catalogue_stars"] == 3
    assert g1["gaia_source_id"] == 990000000000000001 and g1["hip_id"] == 990001
    assert g1["max_identity_separation_arcsec"] == pytest.approx(0.3, abs=0.01)
    # R1 (matched to G1 and to H1), R4 (H1) and R7 (G2): three detections, R1 once.
    assert g1["n_detections"] == 3 and g1["n_secure_detections"] == 3 and g1["n_runs"] == 2
    assert (g1["flux_min_mjy"], g1["flux_max_mjy"]) == (3.0, 5.0)
    assert (g1["first_epoch_jyear"], g1["last_epoch_jyear"]) == (2020.0, 2022.0)
    # The star's own columns are its Gaia star's (J2016.0), not Hipparcos'.
    assert g1["star_catalog"] == PHYS_GAIA and g1["star_epoch_jyear"] == 2016.0
    assert g1["parallax_mas"] == pytest.approx(40.0) and g1["star_ra_deg"] == pytest.approx(PHYS_STARS[G1][0])
    assert stars.loc[H2, "hip_id"] == 990002 and pd.isna(stars.loc[H2, "gaia_source_id"])
    assert stars.loc[G3, "n_catalogue_stars"] == 1 and stars.loc[G3, "catalogue_star_ids"] == G3
    # Every catalogue detection is kept, under its physical star; R1 through H1 does not count again.
    by_key = detections.set_index("detection_key")
    assert len(detections) == 6
    assert set(detections.loc[detections["physical_star_id"] == G1, "star_id"]) == {G1, G2, H1}
    assert not by_key.loc[f"{H1}|{PHYS_RADIO}:1", "counts_for_physical_star"]
    assert by_key["counts_for_physical_star"].sum() == 5
    assert (detections.loc[detections["star_id"].isin([G3, H2]), "physical_star_id"]
            == detections.loc[detections["star_id"].isin([G3, H2]), "star_id"]).all()


def test_physical_stars_rebuilt_whole_are_the_same(stack, physical, loaded):
    """A --full-refresh of the star-level models gives the rows the incremental builds gave."""
    _, stars, _ = physical
    _, _, work = loaded
    dbt_runner.run_dbt(["run", "--full-refresh", "--select", "int_star_detections+"],
                       settings=stack.settings, work_dir=work)
    again = query(stack.settings.warehouse_dsn, "SELECT * FROM marts.radio_stars WHERE star_id = ANY(%s)",
                  (list(PHYS_STARS),)).set_index("star_id")
    cols = ["catalogue_star_ids", "gaia_source_id", "hip_id", "n_detections", "n_runs", "flux_max_mjy",
            "star_catalog", "parallax_mas", "star_grade"]
    pd.testing.assert_frame_equal(again.sort_index()[cols], stars.sort_index()[cols])
