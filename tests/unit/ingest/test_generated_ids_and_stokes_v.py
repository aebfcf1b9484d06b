"""Catalogues without an id column get stable generated ids (IAU-style names or row numbers), on the real
bright NVSS/SUMSS file; Stokes V and the flux error of the SRSC are carried from the survey YAML. Names
are checked against astropy's own sexagesimal split, fluxes against an independent pandas read."""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pandas as pd
import pytest
from astropy.coordinates import Angle
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest.normalize import iau_names
from radiolake.ingest.run import IngestError, ingest_survey
from radiolake.surveys import SurveyDefinitionError, parse_definition

from .conftest import DATA

BRIGHT = DATA / "nvss_sumss_bright.fits"


def astropy_name(ra_deg: float, dec_deg: float) -> str:
    """The IAU name built from astropy's hms/dms split, truncated (not rounded) to 0.01 s and 0.1"."""
    h, m, s = Angle(ra_deg, u.deg).hms
    sign, d, dm, ds = Angle(dec_deg, u.deg).signed_dms
    cs = int(np.floor(round(s * 100, 6)))  # round(, 6) only absorbs float noise below a microsecond
    dds = int(np.floor(round(ds * 10, 6)))
    return (f"J{int(h):02d}{int(m):02d}{cs // 100:02d}.{cs % 100:02d}"
            f"{'-' if sign < 0 else '+'}{int(d):02d}{int(dm):02d}{dds // 10:02d}.{dds % 10}")


def _ingested(lake, name: str) -> pd.DataFrame:
    return cat.read_catalog(lake.fs, lake.base(name)).to_pandas()


def test_iau_names_edges():
    ra = np.array([0.0, 359.99999999999, 180.0, 10.5, np.nan, 15.0])
    dec = np.array([-0.00001, 89.9999999999, -90.0, 45.25, 1.0, 91.0])
    names = iau_names(ra, dec).to_pylist()
    assert names[0] == "J000000.00-000000.0"  # the sign of a southern source right at the equator is kept
    assert names[1] == "J235959.99+895959.9"  # truncated: never rounded up to 24h or 90 deg
    assert names[2] == "J120000.00-900000.0"
    assert names[3] == "J004200.00+451500.0"
    assert names[4] is None and names[5] is None  # no name for a position that is not one


def test_bright_nvss_sumss_without_id_column_is_ingested(lake):
    result = ingest_survey("nvss_sumss_bright", path=BRIGHT, **lake.kwargs())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the file's units (DEGREE, JY/BEAM) are not FITS units
        ref = Table.read(BRIGHT).to_pandas()
    got = _ingested(lake, "nvss_sumss_bright")
    assert result.n_rows == len(ref) == 70_372 and result.n_quarantined == 0
    assert got["source_id"].is_unique
    assert got["source_id"].str.match(r"^nvss_sumss:J\d{6}\.\d{2}[+-]\d{6}\.\d$").all()
    got = got.set_index("source_id")
    sample = ref.sample(500, random_state=3)
    expected = ["nvss_sumss:" + astropy_name(r, d)
                for r, d in zip(sample["RAJ2000"], sample["DEJ2000"], strict=True)]
    np.testing.assert_allclose(got.loc[expected, "ra"], sample["RAJ2000"].to_numpy() % 360)
    np.testing.assert_allclose(got.loc[expected, "flux_int_mjy"], sample["int_flux"].to_numpy() * 1000)


def test_generated_ids_are_stable_across_reruns_and_row_orders(lake, tmp_path):
    ingest_survey("nvss_sumss_bright", path=BRIGHT, **lake.kwargs())
    first = set(_ingested(lake, "nvss_sumss_bright")["source_id"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reversed_file = tmp_path / "reversed.fits"
        Table.read(BRIGHT)[::-1].write(reversed_file)
    other = type(lake)(tmp_path / "lake2")
    ingest_survey("nvss_sumss_bright", path=reversed_file, **other.kwargs())
    assert set(_ingested(other, "nvss_sumss_bright")["source_id"]) == first


def test_row_number_ids_from_a_user_definition(lake, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "surveys").mkdir(parents=True)
    (home / "surveys" / "bright_rows.yaml").write_text(
        (Path(__file__).resolve().parents[3] / "radiolake" / "surveys" / "definitions" /
         "nvss_sumss_bright.yaml").read_text()
        .replace("name: nvss_sumss_bright", "name: bright_rows")
        .replace("id_prefix: nvss_sumss", "id_prefix: bright_row")
        .replace("source_id: {generate: iau_name}", "source_id: {generate: row_number}"))
    monkeypatch.setenv("RADIOLAKE_HOME", str(home))
    ingest_survey("bright_rows", path=BRIGHT, **lake.kwargs())
    got = _ingested(lake, "bright_rows")
    assert sorted(got["source_id"]) == sorted(f"bright_row:{i}" for i in range(70_372))


def test_a_missing_id_column_names_the_fix(lake, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "surveys").mkdir(parents=True)
    (home / "surveys" / "bright_uuid.yaml").write_text(
        (Path(__file__).resolve().parents[3] / "radiolake" / "surveys" / "definitions" /
         "nvss_sumss_bright.yaml").read_text()
        .replace("name: nvss_sumss_bright", "name: bright_uuid")
        .replace("source_id: {generate: iau_name}", "source_id: uuid"))
    monkeypatch.setenv("RADIOLAKE_HOME", str(home))
    with pytest.raises(IngestError, match=r"column\(s\) uuid .*missing.*generate: iau_name"):
        ingest_survey("bright_uuid", path=BRIGHT, **lake.kwargs())


@pytest.mark.parametrize("columns, message", [
    ({"source_id": {"generate": "hash"}, "ra": "r", "dec": "d"}, "must be one of"),
    ({"source_id": "id", "ra": {"generate": "iau_name"}, "dec": "d"}, "only for source_id"),
    ({"source_id": {"generate": "iau_name", "from": "x"}, "ra": "r", "dec": "d"}, "only for source_id"),
    ({"source_id": {"unit": "deg"}, "ra": "r", "dec": "d"}, "generate: iau_name"),
])
def test_bad_id_generators_are_refused(columns, message):
    with pytest.raises(SurveyDefinitionError, match=message):
        parse_definition({"name": "x", "kind": "radio", "source": {"kind": "file", "path": "x.csv"},
                          "format": "csv", "columns": columns, "epoch": {"fixed": 2000.0},
                          "citation": "c", "licence": "l"})


def test_srsc_stokes_v_and_flux_errors_are_carried(lake):
    ingest_survey("srsc", path=DATA / "SRSC_distances.csv", **lake.kwargs())
    ref = pd.read_csv(DATA / "SRSC_distances.csv")
    ref = ref[ref["Radio_ra"].notna() & ~ref["Radio_component_id"].duplicated(keep="first")]
    ref = ref.set_index("srsc:" + ref["Radio_component_id"].astype(str))
    got = _ingested(lake, "srsc").set_index("source_id")
    ref = ref.loc[got.index]
    for ours, theirs in [("flux_v_peak_mjy", "Radio_V_flux_peak"), ("flux_v_int_mjy", "Radio_V_flux_int"),
                         ("flux_v_error_mjy", "Radio_local_V_RMS"), ("flux_error_mjy", "Radio_local_I_RMS")]:
        np.testing.assert_allclose(got[ours].to_numpy(float), ref[theirs].to_numpy(float), equal_nan=True)
    has_v = got["flux_v_peak_mjy"].notna() | got["flux_v_int_mjy"].notna()
    assert 150 <= has_v.sum() <= 220  # the SRSC's ~209 Stokes V detections, minus quarantined rows
    assert got["flux_error_mjy"].notna().mean() > 0.9
