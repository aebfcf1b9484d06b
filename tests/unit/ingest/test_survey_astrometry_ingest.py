"""Survey astrometry at ingest (issue 21): each survey's systematic floor from the literature, NVSS without a
double-counted floor and with its error ellipse from the fitted axes, per-row epochs where the catalogue has a
date and the survey span stored where it has none. Real files from ../shared/data where one exists."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import Table
from astropy.time import Time

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.surveys import SurveyDefinitionError, get_survey, parse_definition

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
NVSS_BEAM_ARCSEC = 45.0  # NVSS restoring beam FWHM (Condon et al. 1998)

BASE = {
    "name": "spanned", "kind": "radio", "title": "t", "citation": "c", "licence": "l",
    "source": {"kind": "file", "path": "x.csv"}, "format": "csv",
    "columns": {"source_id": "id", "ra": {"from": "ra", "unit": "deg"}, "dec": {"from": "dec", "unit": "deg"},
                "ra_error": {"from": "e", "unit": "arcsec"}, "dec_error": {"from": "e", "unit": "arcsec"}},
}


@pytest.mark.parametrize(("survey", "floor"), [
    ("racs_low", 1.0), ("racs_low_sample", 1.0), ("vlass", 0.5), ("smgps", 0.5), ("nvss", 0.0),
])
def test_survey_floors_follow_the_literature(survey, floor):
    definition = get_survey(survey)
    assert definition.positions.floor_arcsec == floor
    assert definition.positions.floor_by is None


def test_srsc_floors_per_telescope_as_its_own_definition():
    rule = get_survey("srsc").positions
    assert rule.floor_by == "Radio_telescope"
    assert rule.floor_values["ASKAP"] == 1.0 and rule.floor_values["VLA"] == 0.5


@pytest.mark.parametrize("survey", ["racs_low", "racs_low_sample", "vlass", "smgps", "nvss"])
def test_surveys_without_a_date_per_row_declare_their_span(survey):
    epoch = get_survey(survey).epoch
    assert epoch.span is not None and epoch.column is None
    assert epoch.span[0] < epoch.fixed < epoch.span[1]
    assert epoch.fixed == pytest.approx(0.5 * (epoch.span[0] + epoch.span[1]))


def test_nvss_has_no_floor_and_its_ellipse_comes_from_the_fitted_axes(lake):
    ingest_survey("nvss", path=DATA / "nvss_strip.fits", **lake.kwargs())
    ref = Table.read(DATA / "nvss_strip.fits").to_pandas()
    got = cat.read_catalog(lake.fs, lake.base("nvss")).to_pandas().set_index("source_id")
    got = got.loc["nvss:" + ref["NVSS"].str.decode("ascii").str.strip()]
    # the quoted errors as they are: they already hold Condon et al.'s calibration terms
    np.testing.assert_allclose(got["dec_error"], ref["e_DEJ2000"].to_numpy(float), rtol=1e-6)
    assert got["dec_error"].min() == pytest.approx(0.60, abs=0.005)
    # the ellipse keeps the quoted errors' trace, with the FITTED axes' ratio: deconvolved (+) 45" beam, and an
    # upper limit ('<') unresolved along that axis
    maj, mnr = got["pos_err_major"].to_numpy(), got["pos_err_minor"].to_numpy()
    np.testing.assert_allclose(maj**2 + mnr**2, got["ra_error"] ** 2 + got["dec_error"] ** 2, rtol=1e-6)
    lim_maj = ref["l_MajAxis"].str.decode("ascii").str.contains("<").fillna(False).to_numpy(bool)
    lim_min = ref["l_MinAxis"].str.decode("ascii").str.contains("<").fillna(False).to_numpy(bool)
    dec_maj = np.where(lim_maj, 0.0, np.nan_to_num(ref["MajAxis"].to_numpy(float)))
    dec_min = np.where(lim_min, 0.0, np.nan_to_num(ref["MinAxis"].to_numpy(float)))
    fit_maj, fit_min = np.hypot(dec_maj, NVSS_BEAM_ARCSEC), np.hypot(dec_min, NVSS_BEAM_ARCSEC)
    expected_ratio = np.minimum(fit_maj, fit_min) / np.maximum(fit_maj, fit_min)
    np.testing.assert_allclose(mnr / maj, expected_ratio, rtol=1e-6)
    assert lim_maj.mean() > 0.5  # most NVSS sizes are upper limits: the deconvolved ratio would be meaningless
    assert (mnr / maj).min() > 0.3  # fitted shapes are never as thin as the deconvolved limits suggest
    assert np.allclose(got["epoch_span_years"], 1996.8 - 1993.7)


def test_span_epoch_is_stored_per_row_and_a_date_column_gives_each_row_its_own(lake, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("id,ra,dec,e,mjd\n1,10,10,0.5,58600.5\n2,11,10,0.5,59000.25\n")
    spanned = parse_definition({**BASE, "epoch": {"span": [2019.3, 2020.5]}})
    ingest_survey(spanned, path=path, **lake.kwargs())
    got = cat.read_catalog(lake.fs, lake.base("spanned")).to_pandas()
    np.testing.assert_allclose(got["epoch"], 2019.9)
    np.testing.assert_allclose(got["epoch_span_years"], 1.2)

    dated = parse_definition({**BASE, "name": "dated", "epoch": {"column": "mjd", "format": "mjd"}})
    ingest_survey(dated, path=path, **lake.kwargs())
    got = cat.read_catalog(lake.fs, lake.base("dated")).to_pandas().sort_values("source_id")
    np.testing.assert_allclose(got["epoch"], Time([58600.5, 59000.25], format="mjd", scale="tt").jyear)
    assert "epoch_span_years" not in got.columns  # an exact date per row: nothing to add


def test_epoch_block_is_validated():
    with pytest.raises(SurveyDefinitionError, match="exactly one"):
        parse_definition({**BASE, "epoch": {"fixed": 2020.0, "span": [2019.0, 2021.0]}})
    with pytest.raises(SurveyDefinitionError, match="first <= last"):
        parse_definition({**BASE, "epoch": {"span": [2021.0, 2019.0]}})
    with pytest.raises(SurveyDefinitionError, match="unknown"):
        parse_definition({**BASE, "epoch": {"fixed": 2020.0, "spam": 1}})
    with pytest.raises(SurveyDefinitionError, match="beam"):
        parse_definition({**BASE, "epoch": {"fixed": 2020.0},
                          "positions": {"error_ellipse_from_shape": ["a", "b", "pa"],
                                        "shape_deconvolved_beam_arcsec": -1}})


def test_a_span_is_part_of_the_fingerprint_and_the_description():
    fixed = parse_definition({**BASE, "epoch": {"fixed": 2019.9}})
    spanned = parse_definition({**BASE, "epoch": {"span": [2019.3, 2020.5]}})
    assert fixed.epoch.span is None and fixed.fingerprint() != spanned.fingerprint()
    assert "span" not in fixed.epoch.describe() and "2019.3-2020.5" in spanned.epoch.describe()
