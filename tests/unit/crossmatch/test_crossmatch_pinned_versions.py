"""A run reads the catalogue versions it pinned, records them in run.json, and pruning keeps them.

Real ingests into a lake on the local filesystem, the real job on local Spark."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from radiolake.crossmatch.runner import crossmatch_run_params
from radiolake.ingest import catalog as cat
from radiolake.ingest import pins
from radiolake.ingest.run import ingest_survey
from radiolake.run_params import CrossmatchParams
from tests.unit.conftest_spark import spark  # noqa: F401  (re-exported fixture)

REGION = "cone:150,20,6"


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))


def _ingest(root: Path, survey: str, seed: int):
    return ingest_survey(survey, region=REGION, rows=3000, seed=seed, fs=pafs.LocalFileSystem(),
                         catalogs_root=str(root / "catalogs"), raw_root=str(root / "raw"))


def _run(root: Path, run_id: str, **versions) -> dict:
    crossmatch_run_params(CrossmatchParams(str(root / "catalogs" / "synthetic_radio"),
                                           str(root / "catalogs" / "synthetic_stars"), radius_arcsec=5.0,
                                           n_sigma=None, offsets=1, offset_arcmin=3.0,
                                           out=str(root / "xmatch" / run_id), run_id=run_id), **versions)
    return json.loads((root / "xmatch" / run_id / "run.json").read_text())


def test_run_reads_and_records_its_pinned_versions_and_pruning_keeps_them(spark, tmp_path):  # noqa: F811
    radio, stars_v1 = _ingest(tmp_path, "synthetic_radio", 1), _ingest(tmp_path, "synthetic_stars", 1)
    baseline = _run(tmp_path, "before")
    assert baseline["catalog_versions"] == {"radio": {"catalog": "synthetic_radio", "version": radio.version},
                                            "stars": {"catalog": "synthetic_stars", "version": stars_v1.version}}
    assert baseline["star_catalog"] == "synthetic_stars" and baseline["n_pairs"] > 0

    stars_v2 = _ingest(tmp_path, "synthetic_stars", 2)  # CURRENT moves on
    stars_base = str(tmp_path / "catalogs" / "synthetic_stars")
    assert cat.current_version(pafs.LocalFileSystem(), stars_base) == stars_v2.version
    pinned = _run(tmp_path, "pinned", stars_version=stars_v1.version)  # what the pipeline's own ingest made
    assert pinned["catalog_versions"]["stars"]["version"] == stars_v1.version
    assert (pinned["n_stars"], pinned["n_pairs"]) == (baseline["n_stars"], baseline["n_pairs"])
    current = _run(tmp_path, "current")
    assert current["catalog_versions"]["stars"]["version"] == stars_v2.version

    fs = pafs.LocalFileSystem()
    assert {v: sorted(r) for v, r in pins.pinned_versions(fs, stars_base).items()} == {
        stars_v1.version: ["before", "pinned"], stars_v2.version: ["current"]}
    later = [_ingest(tmp_path, "synthetic_stars", seed) for seed in (3, 4, 5)]  # KEEP_VERSIONS = 2
    versions = cat.list_versions(fs, stars_base)
    assert versions.get(stars_v1.version) and versions.get(stars_v2.version), "a pinned version was pruned"
    assert later[0].version not in versions, "an unpinned old version should have been pruned"
    assert versions.get(later[-1].version) and versions.get(later[-2].version)
