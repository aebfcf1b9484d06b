"""Crafted bad input: each bad row quarantined with its reason, nothing else lost; bad files fail loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from astropy.table import Table

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import BadBatchError, IngestError, ingest_survey
from radiolake.surveys import parse_definition

DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

#: A user-added survey: one definition, no code.
TOY = parse_definition(
    {
        "name": "toy_radio",
        "kind": "radio",
        "citation": "test",
        "licence": "CC0",
        "source": {"kind": "file"},
        "format": "csv",
        "columns": {
            "source_id": "id",
            "ra": {"from": "ra", "unit": "deg"},
            "dec": {"from": "dec", "unit": "deg"},
            "ra_error": {"from": "e_ra", "unit": "arcsec"},
            "flux_peak_mjy": {"from": "flux", "unit": "Jy"},
        },
        "epoch": {"column": "mjd", "format": "mjd"},
        "max_bad_fraction": 0.7,
    }
)

GOOD = ["1,10.0,-5.0,0.5,0.010,59000", "2,370.5,20.0,0.4,0.020,59001", "3,359.9,-89.9,1.0,0.002,59002"]


def _csv(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "toy.csv"
    path.write_text("id,ra,dec,e_ra,flux,mjd\n" + "\n".join(lines) + "\n")
    return path


def test_each_bad_row_has_its_reason_and_good_rows_survive(lake, tmp_path):
    bad = [
        "4,nan,5.0,0.5,0.01,59000",
        "5,10.0,91.0,0.5,0.01,59000",
        "6,10.0,5.0,0.5,abc,59000",
        "2,11.0,5.0,0.5,0.01,59000",
        "7,10.0,5.0,-1,0.01,59000",
        "8,10.0,5.0,0.5,0.01,1e9",
    ]
    result = ingest_survey(TOY, path=_csv(tmp_path, GOOD + bad), **lake.kwargs())
    q = cat.read_quarantine(lake.fs, lake.base("toy_radio"), result.version).to_pandas()
    reasons = dict(zip(q.row_index, q.reason, strict=True))
    assert reasons == {
        3: "ra_not_finite",
        4: "dec_out_of_range",
        5: "not_a_number:flux",
        6: "duplicate_id",
        7: "negative_error:ra_error",
        8: "implausible_epoch",
    }
    assert '"flux": "abc"' in q.loc[q.row_index == 5, "raw_json"].item()
    got = cat.read_catalog(lake.fs, lake.base("toy_radio")).to_pandas().set_index("source_id")
    assert sorted(got.index) == ["toy_radio:1", "toy_radio:2", "toy_radio:3"]
    assert got.loc["toy_radio:2", "ra"] == pytest.approx(10.5)  # wrapped into [0, 360)
    assert got.loc["toy_radio:1", "flux_peak_mjy"] == pytest.approx(10.0)
    meta = result.metadata["quarantine"]
    assert meta["rows_read"] == 9 and meta["rows_quarantined"] == 6 and meta["reasons"]["duplicate_id"] == 1


def test_bad_share_above_threshold_fails_but_keeps_the_rows(lake, tmp_path):
    bad = [f"{i},nan,0,1,1,59000" for i in range(10, 20)]  # 10 of 13 > 70 %
    with pytest.raises(BadBatchError, match="10 of 13 rows rejected"):
        ingest_survey(TOY, path=_csv(tmp_path, GOOD + bad), **lake.kwargs())
    assert cat.current_version(lake.fs, lake.base("toy_radio")) is None  # nothing committed
    [qfile] = Path(lake.base("toy_radio"), "quarantine").glob("*.parquet")
    assert Table.read(qfile).to_pandas()["reason"].eq("ra_not_finite").sum() == 10


def test_empty_file(lake, tmp_path):
    path = tmp_path / "toy.csv"
    path.write_bytes(b"")
    with pytest.raises(IngestError, match="empty_file"):
        ingest_survey(TOY, path=path, **lake.kwargs())
    [qfile] = Path(lake.base("toy_radio"), "quarantine").glob("*.parquet")
    row = Table.read(qfile)[0]
    assert row["row_index"] == -1 and row["reason"] == "empty_file"


def test_truncated_fits(lake, tmp_path):
    data = (DATA / "nvss_strip.fits").read_bytes()
    path = tmp_path / "nvss_cut.fits"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(IngestError, match="truncated_fits"):
        ingest_survey("nvss", path=path, **lake.kwargs())
    assert cat.current_version(lake.fs, lake.base("nvss")) is None
    raw_files = list(Path(lake.raw_root, "nvss").rglob("nvss_cut.fits"))
    assert len(raw_files) == 1 and raw_files[0].read_bytes() == path.read_bytes()  # as fetched, kept


def test_votable_missing_column(lake, tmp_path):
    t = Table.read(DATA / "nvss_strip.fits")
    t.remove_column("e_DEJ2000")
    path = tmp_path / "nvss_missing.vot"
    t.write(path, format="votable")
    with pytest.raises(IngestError, match="e_DEJ2000"):
        ingest_survey("nvss", path=path, **lake.kwargs())
    [qfile] = Path(lake.base("nvss"), "quarantine").glob("*.parquet")
    assert Table.read(qfile)[0]["reason"] == "missing_column"


def test_complete_votable_is_read(lake, tmp_path):
    """Control for the test above: the same VOTable with all columns ingests whole."""
    path = tmp_path / "nvss.vot"
    Table.read(DATA / "nvss_strip.fits").write(path, format="votable")
    assert ingest_survey("nvss", path=path, **lake.kwargs()).n_rows == 639
    shutil.rmtree(tmp_path / "lake")
