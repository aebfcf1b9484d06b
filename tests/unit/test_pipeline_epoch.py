"""The pipeline's radio epoch (issue 22): an epoch's rows go to a catalogue of their own with ids of their own,
so a new epoch adds light-curve points to the same stars instead of replacing the earlier epoch's rows."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest

from radiolake.app.pipeline import BadInputError, epoch_survey, ingest_step
from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.surveys import get_survey


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))


def test_an_epoch_is_its_own_catalogue_with_its_own_ids(tmp_path):
    assert epoch_survey("synthetic_radio", None) == ("synthetic_radio", None)
    prefix = get_survey("synthetic_radio").id_prefix
    lake = {"fs": pafs.LocalFileSystem(), "catalogs_root": str(tmp_path / "catalogs"),
            "raw_root": str(tmp_path / "raw")}
    ids = {}
    for epoch in (None, "2024-05"):
        definition, name = epoch_survey("synthetic_radio", epoch)
        result = ingest_survey(definition, region="cone:150,20,2", rows=400, seed=3, name=name, **lake)
        ids[epoch] = cat.read_catalog(lake["fs"], str(tmp_path / "catalogs" / result.name), ["source_id"]).column(0)
        assert result.name == ("synthetic_radio" if epoch is None else "synthetic_radio_2024-05")
    # the same sky drawn twice: the same rows, told apart by their epoch's prefix
    assert ids[None].length() == ids["2024-05"].length() > 0
    assert pc.all(pc.starts_with(ids["2024-05"], f"{prefix}_2024-05:")).as_py()
    assert not set(ids[None].to_pylist()) & set(ids["2024-05"].to_pylist())
    assert cat.current_version(lake["fs"], str(tmp_path / "catalogs" / "synthetic_radio")) is not None  # kept


def test_a_bad_epoch_label_is_refused_before_anything_is_read():
    with pytest.raises(BadInputError, match="epoch"):
        ingest_step("radio", {"epoch": "../up"})
