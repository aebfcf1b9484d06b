"""The survey YAML `positions` block: systematic floors and error ellipses applied at ingest, on a real file
(the RACS-low tile) and on a definition written here."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.surveys import SurveyDefinitionError, get_survey, parse_definition

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

BASE = {
    "name": "floored", "kind": "radio", "title": "t", "citation": "c", "licence": "l",
    "source": {"kind": "file", "path": "x.csv"}, "format": "csv", "epoch": {"fixed": 2020.0},
    "columns": {"source_id": "id", "ra": {"from": "ra", "unit": "deg"}, "dec": {"from": "dec", "unit": "deg"},
                "ra_error": {"from": "e", "unit": "arcsec"}, "dec_error": {"from": "e", "unit": "arcsec"}},
    "keep": ["tel"],
}


def test_floor_by_column_with_default(lake, tmp_path):
    spec = {**BASE, "positions": {"systematic_error_arcsec": {"by": "tel", "values": {"LOFAR": 0.2}, "default": 1.0}}}
    definition = parse_definition(spec)
    path = tmp_path / "x.csv"
    path.write_text("id,ra,dec,e,tel\n1,10,10,0.15,LOFAR\n2,11,10,,ASKAP\n3,12,10,2.0,ASKAP\n")
    ingest_survey(definition, path=path, **lake.kwargs())
    got = cat.read_catalog(lake.fs, lake.base("floored")).to_pandas().set_index("source_id")
    np.testing.assert_allclose(got.loc[["floored:1", "floored:2", "floored:3"], "ra_error"],
                               [0.25, 1.0, np.hypot(2.0, 1.0)])
    np.testing.assert_allclose(got["ra_error"], got["dec_error"])


def test_positions_block_is_validated():
    with pytest.raises(SurveyDefinitionError, match="by"):
        parse_definition({**BASE, "positions": {"systematic_error_arcsec": {"values": {"A": 1}}}})
    with pytest.raises(SurveyDefinitionError, match=">= 0"):
        parse_definition({**BASE, "positions": {"systematic_error_arcsec": -1}})
    with pytest.raises(SurveyDefinitionError, match="three columns"):
        parse_definition({**BASE, "positions": {"error_ellipse_from_shape": ["a", "b"]}})
    with pytest.raises(SurveyDefinitionError, match="unknown"):
        parse_definition({**BASE, "positions": {"floor": 1}})
    plain = parse_definition(BASE)
    assert plain.fingerprint() != parse_definition({**BASE, "positions": {"systematic_error_arcsec": 1}}).fingerprint()


def test_racs_tile_gets_ellipses_from_its_component_shapes(lake):
    ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", **lake.kwargs())
    got = cat.read_catalog(lake.fs, lake.base("racs_low_sample")).to_pandas().set_index("source_id")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = Table.read(DATA / "racs_low2_SB38959_tile.fits").to_pandas()
    raw.index = "racs_low:" + raw["uuid"].astype(str).str.strip()
    raw = raw.loc[got.index]
    floor = get_survey("racs_low_sample").positions.floor_arcsec
    e_ra = pd.Series(np.where(raw["err_ra"] < 0, np.nan, raw["err_ra"] * 3600), index=raw.index)
    e_dec = pd.Series(np.where(raw["err_dec"] < 0, np.nan, raw["err_dec"] * 3600), index=raw.index)
    has = e_ra.notna() & e_dec.notna()
    assert has.mean() > 0.9
    # The ellipse: the shape's axis ratio and orientation, the quoted errors' trace, then the floor.
    maj, mnr = got.loc[has, "pos_err_major"], got.loc[has, "pos_err_minor"]
    np.testing.assert_allclose(maj**2 + mnr**2, e_ra[has] ** 2 + e_dec[has] ** 2 + 2 * floor**2, rtol=1e-6)
    ratio = np.minimum(raw["a"], raw["b"]) / np.maximum(raw["a"], raw["b"])
    np.testing.assert_allclose(np.sqrt((mnr**2 - floor**2) / (maj**2 - floor**2)), ratio[has], rtol=1e-6)
    np.testing.assert_allclose(got.loc[has, "ra_error"], np.hypot(e_ra[has], floor), rtol=1e-6)
    assert ((got["pos_err_pa"].dropna() >= 0) & (got["pos_err_pa"].dropna() < 180)).all()
