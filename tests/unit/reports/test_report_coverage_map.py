"""The run report's coverage map (issue 22): drawn from the radio catalogue version's real MOC, equal-area,
so the pixels of each colour measure the sky the catalogue covers and the part that is this run's.
On the real Hipparcos 2 file ingested region by region (a grown catalogue)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.fs as pafs
import pytest
from mocpy import MOC
from PIL import Image

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest.region import parse_region
from radiolake.ingest.run import ingest_survey
from radiolake.reports import coverage_map as cm
from radiolake.reports.summary import RunCounts, build_run_summary

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
REGION_A, REGION_B = "box:10,30,-10,10", "box:200,260,-60,0"


@pytest.fixture(scope="module")
def grown(tmp_path_factory) -> tuple[pafs.FileSystem, cat.CatalogInfo]:
    """A radio-like catalogue grown over two regions (Hipparcos 2 stands in for the rows: only the MOC counts)."""
    root = tmp_path_factory.mktemp("lake")
    mp = pytest.MonkeyPatch()
    mp.setenv("RADIOLAKE_HOME", str(root / "state"))
    fs = pafs.LocalFileSystem()
    kwargs = {"fs": fs, "catalogs_root": str(root / "catalogs"), "raw_root": str(root / "raw")}
    try:
        for region in (REGION_A, REGION_B):
            ingest_survey("hip2_csv", path=DATA / "hip2_epoch1991.25.csv.gz", region=region, name="sky_so_far",
                          max_rows_per_partition=500, **kwargs)
    finally:
        mp.undo()
    return fs, cat.open_catalog(fs, f"{root}/catalogs/sky_so_far")


def _pixels(png: bytes) -> dict[str, int]:
    """Pixels of each flat colour of the map."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    counts = {}
    for name, colour in (("sky", cm.SKY), ("covered", cm.COVERED), ("added", cm.ADDED)):
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        counts[name] = int((img == rgb).all(axis=1).sum())
    return counts


def test_the_map_draws_the_versions_moc_and_its_latest_ingest(grown):
    fs, info = grown
    layers = cm.coverage_layers(fs, info.path)
    moc = coverage.from_moc(MOC.load(f"{info.path}/{coverage.MOC_FILE}", format="fits"))
    assert (layers.covered == moc).all()
    assert (layers.added == coverage.region_cells(parse_region(REGION_B)) & moc).all()
    assert 0 < layers.added.sum() < layers.covered.sum()
    drawn = _pixels(cm.coverage_map(layers))
    on_sky = sum(drawn.values())
    # Mollweide is equal-area: drawn shares are sky shares (edges and grid lines cost a few per cent).
    assert (drawn["covered"] + drawn["added"]) / on_sky == pytest.approx(coverage.sky_fraction(moc), rel=0.1)
    assert drawn["added"] / (drawn["covered"] + drawn["added"]) == pytest.approx(
        layers.added.sum() / layers.covered.sum(), abs=0.03)


def test_a_run_with_its_own_footprint_marks_that_footprint(grown, tmp_path):
    """An incremental run records its footprint in run.json: that is the part drawn as the run's."""
    fs, info = grown
    region_a = coverage.region_cells(parse_region(REGION_A))
    shift = 2 * (29 - coverage.COVERAGE_ORDER)
    ranges = [[int(c) << shift, (int(c) + 1) << shift] for c in np.flatnonzero(region_a)]
    run = {"run_id": "r1", "catalog_versions": {"radio": {"catalog": "sky_so_far", "version": info.version,
           "increment": {"footprint": {"order": 29, "ranges": ranges}}}}}
    (tmp_path / "run.json").write_text(json.dumps(run))
    layers = cm.coverage_layers(fs, info.path, run)
    assert (layers.added == region_a & layers.covered).all() and layers.added_label.startswith("matched by")
    drawn = _pixels(cm.run_coverage_map(fs, info.path, str(tmp_path)))
    assert drawn["added"] / (drawn["covered"] + drawn["added"]) == pytest.approx(
        layers.added.sum() / layers.covered.sum(), abs=0.03)


def test_the_report_links_the_coverage_map(grown):
    fs, info = grown
    figures = {"coverage_map": cm.run_coverage_map(fs, info.path)}
    assert figures["coverage_map"].startswith(b"\x89PNG")
    markdown, html = build_run_summary("run-1", RunCounts(rows_in={"sky_so_far": info.n_rows}), figures)
    assert '<img src="coverage_map.png"' in html and "(coverage_map.png)" in markdown
    assert "Sky the radio catalogue covers so far" in html
