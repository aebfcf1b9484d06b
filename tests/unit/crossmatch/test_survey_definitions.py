"""The survey definitions added for issue 21 (FIRST, SUMSS, LoTSS-DR2, RACS-mid, VLASS epochs 2 and 3): each
loads, declares the astrometric floor and epoch its citation gives, and a small raw table in the survey's own
column layout comes out of the ingest's row normaliser with the floor in quadrature, the error ellipse from the
fitted axes and each row's epoch (from the catalogue's date column where it has one, else the span's middle
with the span stored)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from astropy.time import Time

from radiolake.ingest.normalize import IdTracker, NormalizeStats, normalize_batch
from radiolake.surveys import SurveyDefinition, SurveyDefinitionError, get_survey, parse_definition

#: survey -> (floor in arcsec, shape columns of the error ellipse or None, per-row date column or None)
NEW_SURVEYS = {
    "first": (0.05, ("MAJOR", "MINOR", "POSANG"), "MJD"),
    "sumss": (0.0, ("MajAxis", "MinAxis", "PA"), None),
    "lotss_dr2": (0.2, ("Maj", "Min", "PA"), None),
    "racs_mid": (1.0, None, None),
    "vlass_epoch2": (0.5, ("Maj", "Min", "PA"), None),
    "vlass_epoch3": (0.5, ("Maj", "Min", "PA"), None),
}


def raw_table(definition: SurveyDefinition, n: int, values: dict[str, list]) -> pa.Table:
    """A raw batch with every column the definition reads: `values` where given, else plausible numbers."""
    needed = [c.source for c in definition.columns.values() if c.source]
    needed += list(definition.keep) + list(definition.positions.columns)
    needed += [definition.epoch.column] if definition.epoch.column else []
    data: dict[str, list] = {}
    for col in dict.fromkeys(needed):
        if col in values:
            data[col] = values[col]
        elif col == definition.columns["source_id"].source:
            data[col] = [f"src{i}" for i in range(n)]
        elif col in ("Tile", "Subtile", "Mosaic", "FLDNAME"):
            data[col] = ["t"] * n
        else:
            data[col] = [1.0] * n
    return pa.table(data)


def normalise(definition: SurveyDefinition, raw: pa.Table):
    good, quarantine = normalize_batch(definition, raw, source="test", row_offset=0, ids=IdTracker(),
                                       stats=NormalizeStats())
    assert quarantine.num_rows == 0, quarantine.to_pylist()
    return good.to_pandas()


@pytest.mark.parametrize("name", sorted(NEW_SURVEYS))
def test_new_definition_loads_with_its_citation_floor_ellipse_and_epoch(name):
    floor, shape, date_column = NEW_SURVEYS[name]
    d = get_survey(name)
    assert d.kind == "radio" and d.citation and d.columns["freq_mhz"].value > 0
    assert d.positions.floor_arcsec == floor and d.positions.floor_by is None
    assert d.positions.shape_columns == shape
    # every shape is a fitted one, but FIRST's, whose error formula names the deconvolved size and the 5.4" beam
    assert d.positions.shape_beam_arcsec == (5.4 if name == "first" else None)
    assert (d.positions.snr_errors is not None) == (name == "first")
    assert d.epoch.column == date_column
    if date_column is None:
        first, last = d.epoch.span
        assert 1990 < first < last < 2026 and d.epoch.fixed == pytest.approx(0.5 * (first + last))


def test_first_rows_each_get_their_own_epoch_from_the_mjd_column_and_errors_from_its_formula():
    d = get_survey("first")
    mjd = [49200.5, 52000.25, 55700.0]  # 1993, 2001, 2011: the survey's whole span
    raw = raw_table(d, 3, {"RA": [150.0, 150.1, 150.2], "DEC": [30.0, 30.1, 30.2], "MJD": mjd,
                           "FPEAK": [1.0, 100.0, 20.0], "RMS": [0.15, 0.15, 0.15],
                           "MAJOR": [0.0, 0.0, 6.0], "MINOR": [0.0, 0.0, 2.0], "POSANG": [np.nan, np.nan, 90.0]})
    got = normalise(d, raw)
    np.testing.assert_allclose(got["epoch"], Time(mjd, format="mjd", scale="tt").jyear, atol=1e-9)
    assert got["epoch"].is_monotonic_increasing and got["epoch"].iloc[-1] - got["epoch"].iloc[0] > 17
    assert "epoch_span_years" not in got or got["epoch_span_years"].isna().all()
    # White et al. 1997: unc(90 %) = sqrt(5.4^2 + size^2) (1/SNR + 1/20) per axis, SNR = (Fpeak - 0.25) / rms;
    # one axis at 90 % is 1.645 sigma; then the stated 0.05" systematic bound in quadrature
    snr = (np.array([1.0, 100.0, 20.0]) - 0.25) / 0.15
    along = lambda size, i: np.hypot(np.hypot(5.4, size) * (1 / snr[i] + 0.05) / 1.645, 0.05)  # noqa: E731
    np.testing.assert_allclose(got["ra_error"].iloc[:2], [along(0, 0), along(0, 1)], rtol=1e-9)
    np.testing.assert_allclose(got["dec_error"].iloc[:2], [along(0, 0), along(0, 1)], rtol=1e-9)
    assert got["ra_error"].iloc[0] == pytest.approx(0.82, abs=0.005)  # a 1 mJy point source
    assert got["ra_error"].iloc[1] == pytest.approx(0.18, abs=0.005)  # a 100 mJy one
    # an elongated source: the error ellipse along its PA (east-west here), so RA is the long error
    assert got["pos_err_major"].iloc[2] == pytest.approx(along(6.0, 2), rel=1e-9)
    assert got["pos_err_minor"].iloc[2] == pytest.approx(along(2.0, 2), rel=1e-9)
    assert got["pos_err_pa"].iloc[2] == pytest.approx(90.0)
    assert got["ra_error"].iloc[2] == pytest.approx(along(6.0, 2), rel=1e-9)
    assert got["dec_error"].iloc[2] == pytest.approx(along(2.0, 2), rel=1e-9)
    assert got["source_id"].str.startswith("first:J").all()  # IAU names from the position


def test_first_formula_is_never_confident_without_a_usable_snr():
    d = get_survey("first")
    raw = raw_table(d, 2, {"RA": [10.0, 11.0], "DEC": [5.0, 6.0], "FPEAK": [0.2, np.nan], "RMS": [0.15, 0.15],
                           "MAJOR": [0.0, 0.0],
                           "MINOR": [0.0, 0.0], "POSANG": [0.0, 0.0], "MJD": [52000.0, 52000.0]})
    got = normalise(d, raw)
    worst = np.hypot(5.4 * (1 + 0.05) / 1.645, 0.05)  # SNR taken as 1: the formula's largest error
    np.testing.assert_allclose(got["ra_error"], worst)
    # an elongated source whose PA is missing: round at its major axis, never the narrow side alone
    raw = raw_table(d, 1, {"RA": [12.0], "DEC": [7.0], "FPEAK": [20.0], "RMS": [0.15], "MAJOR": [6.0],
                           "MINOR": [0.0], "POSANG": [np.nan], "MJD": [52000.0]})
    got = normalise(d, raw)
    along_major = np.hypot(np.hypot(5.4, 6.0) * (0.15 / 19.75 + 0.05) / 1.645, 0.05)
    np.testing.assert_allclose(got[["ra_error", "dec_error", "pos_err_major", "pos_err_minor"]].iloc[0],
                               along_major, rtol=1e-9)


@pytest.mark.parametrize(("formula", "message"), [
    ({"peak": "P", "rms": "R"}, "must give exactly"),
    ({"peak": "P", "rms": "R", "peak_bias": 0, "systematic_fraction": 0.05, "confidence_sigma": 0}, "> 0"),
    ({"peak": "P", "rms": "R", "peak_bias": "x", "systematic_fraction": 0.05, "confidence_sigma": 1}, "numbers"),
])
def test_error_formula_is_validated(formula, message):
    base = {"name": "f", "kind": "radio", "title": "t", "citation": "c", "licence": "l",
            "source": {"kind": "file", "path": "x.csv"}, "format": "csv", "epoch": {"fixed": 2000.0},
            "columns": {"source_id": "id", "ra": "ra", "dec": "dec"},
            "positions": {"error_ellipse_from_shape": ["a", "b", "pa"], "error_formula": formula}}
    with pytest.raises(SurveyDefinitionError, match=message):
        parse_definition(base)
    without_shape = {**base, "positions": {"error_formula": {"peak": "P", "rms": "R", "peak_bias": 0,
                                                             "systematic_fraction": 0.05, "confidence_sigma": 1}}}
    with pytest.raises(SurveyDefinitionError, match="needs error_ellipse_from_shape"):
        parse_definition(without_shape)


def test_sumss_keeps_its_quoted_errors_and_takes_the_ellipse_from_the_fitted_axes():
    d = get_survey("sumss")
    raw = raw_table(d, 2, {"RAJ2000": [300.0, 301.0], "DEJ2000": [-60.0, -61.0],
                           "e_RAJ2000": [1.2, 3.0], "e_DEJ2000": [1.5, 4.0],
                           "MajAxis": [60.0, 90.0], "MinAxis": [45.0, 45.0], "PA": [10.0, 100.0]})
    got = normalise(d, raw)
    # no floor: the quoted errors already hold the MOST calibration terms
    np.testing.assert_allclose(got["ra_error"], [1.2, 3.0])
    np.testing.assert_allclose(got["dec_error"], [1.5, 4.0])
    maj, mnr = got["pos_err_major"].to_numpy(), got["pos_err_minor"].to_numpy()
    np.testing.assert_allclose(maj**2 + mnr**2, np.array([1.2, 3.0]) ** 2 + np.array([1.5, 4.0]) ** 2)
    np.testing.assert_allclose(mnr / maj, [45 / 60, 45 / 90])
    np.testing.assert_allclose(got["pos_err_pa"], [10.0, 100.0])
    np.testing.assert_allclose(got["epoch"], 2002.0)
    np.testing.assert_allclose(got["epoch_span_years"], 10.0)


@pytest.mark.parametrize(("name", "floor"), [("lotss_dr2", 0.2), ("vlass_epoch2", 0.5), ("vlass_epoch3", 0.5)])
def test_fit_errors_get_the_floor_in_quadrature_on_both_the_axes_and_the_ellipse(name, floor):
    d = get_survey(name)
    ra_col, dec_col = d.columns["ra_error"].source, d.columns["dec_error"].source
    major_col, minor_col, pa_col = d.positions.shape_columns
    raw = raw_table(d, 2, {d.columns["ra"].source: [180.0, 181.0], d.columns["dec"].source: [50.0, 51.0],
                           ra_col: [0.06, 0.5], dec_col: [0.08, 0.5],
                           major_col: [8.0, 6.0], minor_col: [6.0, 6.0], pa_col: [30.0, 0.0]})
    got = normalise(d, raw)
    np.testing.assert_allclose(got["ra_error"], np.hypot([0.06, 0.5], floor))
    np.testing.assert_allclose(got["dec_error"], np.hypot([0.08, 0.5], floor))
    # the ellipse sized by the quoted errors, then the (isotropic) floor on each axis
    quoted_major = np.sqrt((0.06**2 + 0.08**2) / (1 + (6 / 8) ** 2))
    np.testing.assert_allclose(got["pos_err_major"].iloc[0], np.hypot(quoted_major, floor))
    np.testing.assert_allclose(got["pos_err_minor"].iloc[0], np.hypot(quoted_major * 6 / 8, floor))
    span = d.epoch.span
    np.testing.assert_allclose(got["epoch"], 0.5 * (span[0] + span[1]))
    np.testing.assert_allclose(got["epoch_span_years"], span[1] - span[0])


def test_racs_mid_fit_errors_get_the_askap_floor():
    d = get_survey("racs_mid")
    raw = raw_table(d, 1, {"ra": [10.0], "dec": [-30.0], "e_ra": [0.3], "e_dec": [0.4]})
    got = normalise(d, raw)
    np.testing.assert_allclose(got["ra_error"], np.hypot(0.3, 1.0))
    np.testing.assert_allclose(got["dec_error"], np.hypot(0.4, 1.0))
    assert got["freq_mhz"].iloc[0] == 1367.5
