"""`radiolake export` against the real warehouse: a sample run loaded and built into the marts, exported by
the CLI with the analyst role in every format, and compared with the marts read directly."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from astropy import units as u
from astropy.table import Table
from typer.testing import CliRunner

from radiolake.app.cli import app
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.export import COLUMN_META, FORMATS, SUFFIXES, undeclared_columns
from radiolake.warehouse.load import load_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results

pytestmark = pytest.mark.integration

RUN_ID = "it-export-run"
SURVEY = "it_export_survey"


@pytest.fixture(scope="module")
def loaded(stack, tmp_path_factory):
    tables, run = make_sample_tables(300, seed=71, run_id=RUN_ID, survey=SURVEY)
    path = tmp_path_factory.mktemp("export-run")
    write_results(str(path), tables, run)
    load_run(str(path), dsn=stack.settings.warehouse_dsn)
    dbt_runner.build(settings=stack.settings, work_dir=tmp_path_factory.mktemp("dbt"))  # whole project: its
    # relationship tests reach models beyond the two exported marts
    return stack


def _export(stack, tmp_path, *args: str):
    # Only the analyst DSN: the export must work with the read-only role.
    env = {"RADIOLAKE_ANALYST_DSN": stack.analyst_dsn, "RADIOLAKE_WAREHOUSE_DSN": "",
           "RADIOLAKE_HOME": str(tmp_path / "no-state")}
    result = CliRunner().invoke(app, ["export", *args], env=env)
    assert result.exit_code == 0, result.output
    return result


def _mart(dsn: str, sql: str, params=()) -> list[tuple]:
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_export_candidates_of_a_run(loaded, tmp_path, fmt):
    out = tmp_path / f"candidates{SUFFIXES[fmt]}"
    _export(loaded, tmp_path, "candidates", "--run", RUN_ID, "--out", str(out))
    expected = _mart(loaded.analyst_dsn, "SELECT radio_id, star_id, radio_ra_deg, flux_mjy, grade "
                     "FROM marts.radio_star_candidates WHERE run_id = %s", (RUN_ID,))
    back = Table.read(out, format=FORMATS[fmt])
    assert len(expected) > 0 and len(back) == len(expected)
    got = {str(r): (str(s), float(ra), float(f), str(g)) for r, s, ra, f, g in
           zip(back["radio_id"], back["star_id"], back["radio_ra_deg"], back["flux_mjy"], back["grade"],
               strict=True)}
    for radio_id, star_id, ra, flux, grade in expected:
        assert got[radio_id][0] == star_id and got[radio_id][3] == grade
        np.testing.assert_allclose(got[radio_id][1:3], [ra, flux], rtol=1e-12)
    assert set(back["run_id"]) == {RUN_ID}
    gaia = [str(x) for x in back["gaia_url"]]
    assert all(f"source_id+%3D+{s.split(':')[1]}" in g for s, g in zip(back["star_id"], gaia, strict=True))
    assert all(str(x).startswith("https://simbad.cds.unistra.fr/simbad/sim-id?Ident=Gaia+DR3+")
               for x in back["simbad_url"])
    if fmt != "csv":
        assert back["radio_ra_deg"].unit == u.deg and back["flux_mjy"].unit == u.mJy


def test_export_radio_stars_votable_with_ucds(loaded, tmp_path):
    out = tmp_path / "stars.vot"
    _export(loaded, tmp_path, "radio_stars", "--grade", "A", "--grade", "B", "--grade", "C", "--limit", "50",
            "--out", str(out))
    back = Table.read(out, format="votable")
    n_expected = _mart(loaded.analyst_dsn, "SELECT count(*) FROM marts.radio_stars")[0][0]
    assert len(back) == min(50, n_expected) > 0
    assert back["star_ra_deg"].meta["ucd"] == "pos.eq.ra;meta.main" and back["star_ra_deg"].unit == u.deg
    assert back["parallax_mas"].meta["ucd"] == "pos.parallax" and back["parallax_mas"].unit == u.mas
    assert back["simbad_url"].meta["ucd"] == "meta.ref.url"


@pytest.mark.parametrize("mart", ["candidates", "radio_stars"])
def test_every_exported_column_carries_its_declared_unit_and_ucd(loaded, tmp_path, mart):
    """Every column the real mart returns (new ones included) is declared in COLUMN_META and reaches the
    VOTable with that UCD and unit: a column added to a mart without a declaration fails here."""
    from astropy.io.votable import parse_single_table

    out = tmp_path / f"{mart}.vot"
    _export(loaded, tmp_path, mart, "--limit", "20", "--out", str(out))
    fields = {f.name: f for f in parse_single_table(str(out)).fields}
    assert len(fields) >= 30
    assert undeclared_columns(list(fields)) == []
    for name, field in fields.items():
        unit, ucd = COLUMN_META[name]
        assert field.ucd == ucd, name
        assert (field.unit is None) == (unit is None), name
        if unit is not None:
            assert field.unit == u.Unit(unit), name
    if mart == "radio_stars":
        assert fields["n_secure_detections"].ucd == "meta.number"
        assert fields["radio_luminosity_2_4ghz_erg_s_hz"].unit == u.erg / u.s / u.Hz
        assert fields["max_circular_polarisation_snr"].ucd == "stat.snr;phys.polarization.circular"


def test_export_refuses_bad_requests_in_one_line(loaded, tmp_path):
    env = {"RADIOLAKE_ANALYST_DSN": loaded.analyst_dsn}
    result = CliRunner().invoke(app, ["export", "radio_stars", "--run", RUN_ID, "--out", str(tmp_path / "x.vot")],
                                env=env)
    assert result.exit_code == 1 and "candidates only" in result.output
    result = CliRunner().invoke(app, ["export", "candidates", "--out", str(tmp_path / "x.txt")], env=env)
    assert result.exit_code == 1 and "--format" in result.output
    assert not list(tmp_path.glob("x.*"))
