"""Readers and column mapping on the real files in ../shared/data: values and units checked against an
independent read with astropy / pandas."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from astropy.table import Table
from astropy.time import Time

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.schema import CANONICAL_COLUMNS
from radiolake.surveys import get_survey

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"


def _read(lake, name):
    table = cat.read_catalog(lake.fs, lake.base(name)).to_pandas()
    return table.set_index("source_id", drop=False)


def test_racs_tile_fits_maps_units(lake):
    result = ingest_survey("racs_low_sample", path=DATA / "racs_low2_SB38959_tile.fits", **lake.kwargs())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = Table.read(DATA / "racs_low2_SB38959_tile.fits").to_pandas()
    got = _read(lake, "racs_low_sample")
    assert result.n_rows + result.n_quarantined == len(ref) == 7225
    ref = ref.set_index(
        "racs_low:" + ref["uuid"].str.decode("utf-8")
        if ref["uuid"].dtype == object and isinstance(ref["uuid"].iloc[0], bytes)
        else "racs_low:" + ref["uuid"]
    )
    ref = ref.loc[got.index]
    assert list(got.columns[: len(CANONICAL_COLUMNS)]) == CANONICAL_COLUMNS
    np.testing.assert_allclose(got["ra"], ref["ra"].astype(float))
    np.testing.assert_allclose(got["flux_peak_mjy"], ref["peak_flux"].astype(float) * 1000, rtol=1e-6)
    has_err = ref["err_ra"].notna() & (ref["err_ra"] != -1)
    floor = get_survey("racs_low_sample").positions.floor_arcsec  # the survey's systematic floor, in quadrature
    assert floor > 0
    np.testing.assert_allclose(
        got.loc[has_err, "ra_error"], np.hypot(ref.loc[has_err, "err_ra"].astype(float) * 3600, floor), rtol=1e-6
    )
    # Aegean -1 / masked: no quoted error, so the floor alone stands for it.
    assert (got.loc[~has_err, "ra_error"] == floor).all() and (~has_err).sum() > 0
    assert (got["freq_mhz"] == 887.5).all()
    # the tile has no date: the middle of RACS-low2's span, and the span itself for the cross-match's covariance
    np.testing.assert_allclose(got["epoch"], 2022.3, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got["epoch_span_years"], 0.2, rtol=0, atol=1e-9)
    assert result.metadata["units"]["flux_peak_mjy"] == "mJy"
    assert result.metadata["units"]["ra_error"] == "arcsec"


def test_nvss_fits_ra_error_from_seconds_of_time(lake):
    ingest_survey("nvss", path=DATA / "nvss_strip.fits", **lake.kwargs())
    ref = Table.read(DATA / "nvss_strip.fits").to_pandas()
    got = _read(lake, "nvss").loc["nvss:" + ref["NVSS"].str.decode("ascii").str.strip()]
    assert len(got) == 639
    expected = ref["e_RAJ2000"].to_numpy(float) * 15 * np.cos(np.radians(ref["_DEJ2000"].to_numpy(float)))
    # Condon et al. 1998's quoted errors already hold the calibration terms: no floor on top (no double count)
    assert get_survey("nvss").positions.floor_arcsec == 0
    np.testing.assert_allclose(got["ra_error"], expected, rtol=1e-6)
    np.testing.assert_allclose(got["flux_int_mjy"], ref["S1.4"].to_numpy(float))
    np.testing.assert_allclose(got["dec"], ref["_DEJ2000"].to_numpy(float))


def test_hipparcos_csv(lake):
    result = ingest_survey("hip2_csv", path=DATA / "hip2_epoch1991.25.csv.gz", **lake.kwargs())
    ref = pd.read_csv(DATA / "hip2_epoch1991.25.csv.gz")
    assert result.n_rows == len(ref) == 117_955 and result.n_quarantined == 0
    got = _read(lake, "hip2_csv").loc["hip2:" + ref["HIP"].astype(str)]
    np.testing.assert_allclose(got["ra"], ref["ra_deg"] % 360)
    np.testing.assert_allclose(got["pmra"], ref["pmRA"])
    np.testing.assert_allclose(got["parallax_error"], ref["e_Plx"])
    np.testing.assert_allclose(got["ra_error"], ref["e_RArad"] / 1000)  # mas → arcsec
    np.testing.assert_allclose(got["b_v"], ref["B-V"])  # kept column, SQL-friendly name
    assert (got["epoch"] == 1991.25).all()


def test_gaia_csv_bp_rp_columns(lake):
    result = ingest_survey(
        "gaia_dr3_bright_csv", path=DATA / "gaia_dr3_G_lt_10_epoch2016.csv.gz", **lake.kwargs()
    )
    ref = pd.read_csv(DATA / "gaia_dr3_G_lt_10_epoch2016.csv.gz")
    assert result.n_rows == len(ref) == 482_176
    got = (
        cat.read_catalog(
            lake.fs, lake.base("gaia_dr3_bright_csv"), columns=["source_id", "phot_bp_mean_mag", "pmra"]
        )
        .to_pandas()
        .set_index("source_id")
    )
    sample = ref.sample(2000, random_state=1)
    got = got.loc["gaia_dr3:" + sample["source_id"].astype(str)]
    np.testing.assert_allclose(
        got["phot_bp_mean_mag"], sample["col5_actually_bp_mag"].where(sample["col5_actually_bp_mag"] != 0)
    )
    assert (
        got["pmra"].isna().all()
    )  # this sample has no proper motions, whatever the package calls its columns


def test_srsc_per_row_epochs_and_real_bad_rows(lake):
    result = ingest_survey("srsc", path=DATA / "SRSC_distances.csv", **lake.kwargs())
    ref = pd.read_csv(DATA / "SRSC_distances.csv")
    q = cat.read_quarantine(lake.fs, lake.base("srsc"), result.version).to_pandas()
    assert result.n_rows + len(q) == len(ref)  # nothing lost
    no_position = ref["Radio_ra"].isna()
    assert set(q.loc[q.reason.str.contains("ra_not_finite"), "row_index"]) == set(np.flatnonzero(no_position))
    dup = ref["Radio_component_id"].duplicated() & ~no_position
    assert q.reason.str.contains("duplicate_id").sum() >= dup.sum() - 1
    got = _read(lake, "srsc")
    good = ref[~no_position & ~ref["Radio_component_id"].duplicated(keep="first")]
    good = good.set_index("srsc:" + good["Radio_component_id"].astype(str)).loc[got.index]
    np.testing.assert_allclose(got["epoch"], Time(good["Radio_starttime_mjd"].to_numpy(), format="mjd").jyear)
    assert result.metadata["epoch_min"] >= 1970 and result.metadata["epoch_max"] <= 2030
    assert pq.read_table(f"{result.catalog_path}/dataset/_common_metadata").num_rows == 0
