"""A catalogue that grows region by region, against the real object store and Postgres (issue 22): an ingest
of region 2 leaves region 1's objects untouched (same keys, same ETags) and the catalogue holds both; two
concurrent ingests of two regions of one catalogue both land."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey
from radiolake.lake import minio_client
from radiolake.warehouse.footprints import SKY_END, radio_coverage_footprint
from tests.integration.lake_catalogues import fresh_catalogue

pytestmark = pytest.mark.integration
HIP2 = "hip2_epoch1991.25.csv.gz"  # in the shared_data folder (tests/conftest.py)

REGION_1 = "box:10,30,-10,10"
REGION_2 = "box:100,120,20,40"
REGION_3 = "cone:200,-40,8"


@pytest.fixture(autouse=True)
def _hip2(shared_data):
    global _HIP2_PATH
    _HIP2_PATH = shared_data / HIP2


_HIP2_PATH = None


def _ingest(settings, name: str, region: str, seed: int = 0):
    """The real Hipparcos 2 file (unique ids over the whole sky), one region of it."""
    return ingest_survey("hip2_csv", path=_HIP2_PATH, region=region, name=name, settings=settings,
                         max_rows_per_partition=100)


def _rows(fs, base: str, version: str | None = None) -> set[tuple[str, float]]:
    table = cat.read_catalog(fs, base, columns=["source_id", "ra"], version=version)
    return set(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def _etags(settings, keys: list[str]) -> dict[str, str]:
    client = minio_client(settings)
    bucket = settings.bucket("catalogs")
    return {k: client.stat_object(bucket, k.removeprefix(f"{bucket}/")).etag for k in keys}


def test_region_two_leaves_region_one_untouched_and_the_catalogue_holds_both(stack):
    settings, fs, name, base = fresh_catalogue(stack, "it_grow_stars")
    first = _ingest(settings, name, REGION_1, 1)
    files_1 = cat.partition_files(cat.open_catalog(fs, base))
    etags_1 = _etags(settings, files_1)
    rows_1 = _rows(fs, base)

    second = _ingest(settings, name, REGION_2, 2)
    info = cat.open_catalog(fs, base)
    assert info.version == second.version and info.metadata["grown_from"] == first.version
    assert set(files_1) <= set(cat.partition_files(info))  # the same objects, listed by the new version
    assert _etags(settings, files_1) == etags_1  # and never rewritten
    rows = _rows(fs, base)
    assert rows_1 < rows and len(rows) == second.n_rows == first.n_rows + len(rows - rows_1)
    assert cat.exists(fs, f"{info.path}/moc.fits")
    assert _rows(fs, base, first.version) == rows_1  # the older version is still readable by id

    # A run over this version covers both regions: its footprint (set at load) holds every row, nothing far.
    run = {"run_id": "r", "catalog_versions": {"radio": {"catalog": name, "version": second.version}}}
    footprint = radio_coverage_footprint(run, settings)
    lo = np.array([r[0] for r in footprint["ranges"]])
    hi = np.array([r[1] for r in footprint["ranges"]])
    healpix = cat.read_catalog(fs, base, columns=["healpix"]).column(0).to_numpy()
    i = np.searchsorted(lo, healpix, side="right") - 1
    assert ((i >= 0) & (healpix < hi[i])).all()
    assert sum(h - lo_ for lo_, h in footprint["ranges"]) < SKY_END * 0.05
    every = _etags(settings, [f"{base}/{cat.CURRENT}", *cat.partition_files(info)])
    again = _ingest(settings, name, REGION_2, 2)
    assert again.reused and again.version == second.version
    assert _etags(settings, list(every)) == every
    assert cat.list_versions(fs, base) == {first.version: True, second.version: True}


def test_two_concurrent_regional_ingests_both_land(stack):
    settings, fs, name, base = fresh_catalogue(stack, "it_grow_concurrent")
    results: dict[str, object] = {}

    def ingest(region: str, seed: int) -> None:
        try:
            results[region] = _ingest(settings, name, region, seed)
        except BaseException as exc:  # noqa: BLE001 - asserted below
            results[region] = exc

    threads = [threading.Thread(target=ingest, args=(r, s)) for r, s in ((REGION_1, 11), (REGION_3, 13))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(600)
    for region in (REGION_1, REGION_3):
        assert not isinstance(results[region], BaseException), results[region]
    a, b = results[REGION_1], results[REGION_3]
    alone_a, alone_b = _rows(fs, base, a.version), _rows(fs, base, b.version)
    both = _rows(fs, base)
    # Whichever committed second grew from the first: CURRENT holds both regions' rows.
    later = a if cat.current_version(fs, base) == a.version else b
    earlier = b if later is a else a
    assert later.metadata["grown_from"] == earlier.version
    assert len(both) == later.n_rows == earlier.n_rows + len(both - _rows(fs, base, earlier.version))
    assert (alone_a | alone_b) == both
    regions = {layer["region"] for layer in later.metadata["layers"]}
    assert len(regions) == 2
