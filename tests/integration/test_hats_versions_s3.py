"""Every committed version of a catalogue grown region by region is a whole HATS catalogue on the real object
store too (issue 22): its dataset/_metadata names every partition, the shared ones of older versions as
../../<version>/dataset/...; S3 resolves no `..` in a key, so pyarrow's parquet_dataset cannot open those
there as it does on a local disk: hats_files.metadata_dataset reads every row of the version through the
_metadata's file list over S3. The run report's coverage map is drawn from the version's moc.fits in the
bucket."""

from __future__ import annotations

import pyarrow.dataset as ds
import pytest

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage, hats_files
from radiolake.ingest.region import parse_region
from radiolake.ingest.run import ingest_survey
from radiolake.reports import coverage_map as cm
from tests.integration.lake_catalogues import fresh_catalogue

pytestmark = pytest.mark.integration
REGION_1, REGION_2 = "box:10,30,-10,10", "box:100,120,20,40"


def test_a_grown_version_reads_whole_through_its_metadata_on_s3(stack, shared_data):
    settings, fs, _, base = fresh_catalogue(stack, "hats_versions_s3")
    for region in (REGION_1, REGION_2):
        ingest_survey("hip2_csv", path=shared_data / "hip2_epoch1991.25.csv.gz", region=region,
                      name="hats_versions_s3", settings=settings, max_rows_per_partition=100)
    info = cat.open_catalog(fs, base)
    assert any(p.get("version") for p in info.partitions)  # it shares the first version's partitions
    assert sorted(hats_files.metadata_files(fs, info.path)) == sorted(cat.partition_files(info))
    with pytest.raises(OSError):  # the key with `..` as it stands: the object store resolves no `..`
        ds.parquet_dataset(f"{info.path}/dataset/_metadata", filesystem=fs).to_table()
    table = hats_files.metadata_dataset(fs, info.path).to_table(columns=["source_id"])
    assert table.num_rows == info.n_rows
    assert set(table.column(0).to_pylist()) == set(cat.read_catalog(fs, base, ["source_id"]).column(0).to_pylist())
    layers = cm.coverage_layers(fs, info.path)
    assert (layers.covered == coverage.read_coverage(fs, base, info.version)).all()
    assert (layers.added == coverage.region_cells(parse_region(REGION_2)) & layers.covered).all()
    assert cm.run_coverage_map(fs, info.path)[:8] == b"\x89PNG\r\n\x1a\n"
