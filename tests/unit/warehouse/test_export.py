"""`radiolake export`'s table building and writing (radiolake.warehouse.export), without a warehouse.

The integration test (tests/integration/test_export.py) reads the real marts; here the rows are given, so
every format's round trip through astropy, the units/UCDs TOPCAT reads and the link columns are checked fast.
"""

import datetime as dt
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from astropy import units as u
from astropy.io.votable import parse_single_table
from astropy.table import Table

from radiolake.warehouse import export as ex

NAMES = ["candidate_key", "run_id", "is_latest_run", "radio_id", "star_id", "radio_ra_deg", "radio_dec_deg",
         "separation_arcsec", "association_probability", "parallax_mas", "distance_pc", "flux_mjy", "grade",
         "n_something", "built_at"]
OIDS = [25, 25, 16, 25, 25, 701, 701, 701, 701, 701, 701, 701, 25, 20, 1184]
ROWS = [
    ("r1|a", "r1", True, "racs_low:3f0c2b1e-0000-4000-8000-000000000001", "gaia_dr3:4472832130942575872",
     213.5, -18.25, 0.42, 0.97, 12.5, 80.0, 3.2, "A", 3, dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)),
    ("r1|b", "r1", True, "racs_low:3f0c2b1e-0000-4000-8000-000000000002", "hip2:87937",
     210.0, -20.0, 1.5, None, None, None, 12.0, "B", None, None),
    ("r1|c", "r1", None, "synthetic_radio:7", "synthetic_stars:99", 10.0, 5.0, 2.0, 0.1, 1.0, None, 0.5, "C",
     7, None),
]


@pytest.fixture()
def table():
    return ex.build_table("candidates", NAMES, OIDS, ROWS, descriptions={"flux_mjy": "Radio flux density, mJy."})


def test_units_ucds_and_descriptions(table):
    assert table["radio_ra_deg"].unit == u.deg and table["radio_ra_deg"].meta["ucd"] == "pos.eq.ra;meta.main"
    assert table["radio_dec_deg"].meta["ucd"] == "pos.eq.dec;meta.main"
    assert table["flux_mjy"].unit == u.mJy and table["flux_mjy"].meta["ucd"] == "phot.flux.density;em.radio"
    assert table["flux_mjy"].description == "Radio flux density, mJy."
    assert table["parallax_mas"].unit == u.mas and table["parallax_mas"].meta["ucd"] == "pos.parallax"
    assert table["gaia_url"].meta["ucd"] == table["simbad_url"].meta["ucd"] == "meta.ref.url"
    assert table["n_something"].unit is None and "ucd" not in table["n_something"].meta  # unknown: left bare
    assert list(table["n_something"].mask) == [False, True, False]
    assert list(table["association_probability"].mask) == [False, True, False]
    assert table["built_at"][0] == "2026-12-07T04:00:00+00:00"


def test_links_per_row(table):
    gaia, simbad = list(table["gaia_url"].filled("")), list(table["simbad_url"].filled(""))
    assert "source_id+%3D+4472832130942575872" in gaia[0] and gaia[1] == gaia[2] == ""
    assert parse_qs(urlparse(simbad[0]).query)["Ident"] == ["Gaia DR3 4472832130942575872"]
    assert parse_qs(urlparse(simbad[1]).query)["Ident"] == ["HIP 87937"]
    # A star SIMBAD does not know by our id: a cone at the row's position.
    assert parse_qs(urlparse(simbad[2]).query)["Coord"] == ["10.0000000 +5.0000000"]


@pytest.mark.parametrize("fmt", list(ex.FORMATS))
def test_round_trip_every_format(table, tmp_path, fmt):
    path = ex.write_table(table, tmp_path / f"candidates{ex.SUFFIXES[fmt]}", fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no partial file left behind
    back = Table.read(path, format=ex.FORMATS[fmt])
    assert back.colnames == table.colnames
    assert list(back["star_id"]) == list(table["star_id"])
    np.testing.assert_allclose(np.asarray(back["radio_ra_deg"], float), [213.5, 210.0, 10.0])
    assert list(np.ma.getmaskarray(back["distance_pc"])) == [False, True, True] or fmt == "csv" and \
        list(np.isnan(np.ma.filled(back["distance_pc"].astype(float), np.nan))) == [False, True, True]
    assert str(back["gaia_url"][0]) == str(table["gaia_url"][0])
    # A null boolean stays null (FITS and CSV have none: 0/1 with a mask), the others keep their value.
    assert list(np.ma.getmaskarray(back["is_latest_run"])) == [False, False, True]
    assert [bool(v) for v in back["is_latest_run"][:2]] == [True, True]
    assert list(np.ma.getmaskarray(back["n_something"])) == [False, True, False]
    if fmt != "csv":  # CSV has no units
        assert back["flux_mjy"].unit == u.mJy and back["radio_dec_deg"].unit == u.deg


def test_votable_has_the_ucds_topcat_reads(table, tmp_path):
    path = ex.write_table(table, tmp_path / "c.vot", "votable")
    fields = {f.name: f for f in parse_single_table(str(path)).fields}
    assert fields["radio_ra_deg"].ucd == "pos.eq.ra;meta.main" and str(fields["radio_ra_deg"].unit) == "deg"
    assert fields["flux_mjy"].ucd == "phot.flux.density;em.radio" and str(fields["flux_mjy"].unit) == "mJy"
    assert fields["parallax_mas"].ucd == "pos.parallax"
    assert fields["simbad_url"].ucd == "meta.ref.url"


def test_empty_result_keeps_typed_columns(tmp_path):
    table = ex.build_table("candidates", NAMES, OIDS, [], descriptions={})
    assert len(table) == 0 and table["radio_ra_deg"].dtype == np.float64 and table["is_latest_run"].dtype == bool
    for fmt in ex.FORMATS:
        back = Table.read(ex.write_table(table, tmp_path / f"e{ex.SUFFIXES[fmt]}", fmt), format=ex.FORMATS[fmt])
        assert len(back) == 0 and "simbad_url" in back.colnames


def test_sql_binds_every_value():
    query, params = ex.select_sql("candidates", run_id="x'; DROP TABLE y; --", latest=True, grades=["A"], limit=5)
    text = query.as_string(None)
    assert "DROP" not in text and params == ["x'; DROP TABLE y; --", ["A"], 5]
    assert '"marts"."radio_star_candidates"' in text and "is_latest_run" in text
    with pytest.raises(ex.ExportError, match="candidates only"):
        ex.select_sql("radio_stars", run_id="r", latest=False, grades=(), limit=None)
    with pytest.raises(ex.ExportError, match="unknown table"):
        ex.select_sql("load.runs", run_id=None, latest=False, grades=(), limit=None)


def test_descriptions_come_from_the_dbt_docs():
    described = ex.column_descriptions("radio_star_candidates")
    assert "flux" in described["flux_mjy"].lower()
    assert set(ex.column_descriptions("radio_stars")) >= {"star_id", "star_grade"}


@pytest.mark.parametrize("mart", list(ex.MARTS))
def test_every_documented_column_has_a_unit_and_ucd_declaration(mart):
    """A column the dbt docs list for an exported mart (new ones included) must be declared in COLUMN_META with a
    valid UCD1+ word list and, where it has a unit, one the VOUnit standard parses: else TOPCAT gets it bare."""
    from astropy.io.votable.ucd import check_ucd

    documented = ex.column_descriptions(ex.MARTS[mart].table)
    assert len(documented) >= 25  # the docs were found and read
    assert sorted(set(documented) - set(ex.COLUMN_META)) == []
    for name, (unit, ucd) in ex.COLUMN_META.items():
        assert check_ucd(ucd, check_controlled_vocabulary=True), (name, ucd)
        if unit is not None:
            u.Unit(unit, format="vounit")


def test_a_new_column_without_a_declaration_is_reported():
    assert ex.undeclared_columns(["star_id", "n_secure_detections", "radio_luminosity_new_band"]) == [
        "radio_luminosity_new_band"]
