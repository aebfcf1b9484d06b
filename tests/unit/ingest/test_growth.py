"""Catalogues that grow region by region (issue 22): a region adds to CURRENT, shares what it does not touch,
replaces only what it covers; an unchanged re-ingest writes nothing; pruning keeps every shared file.
On the real Hipparcos 2 file (unique ids over the whole sky), ingested region by region."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
from mocpy import MOC

from radiolake.ingest import catalog as cat
from radiolake.ingest import coverage
from radiolake.ingest.partition_writer import prune_versions
from radiolake.ingest.region import parse_region
from radiolake.ingest.run import ingest_survey
from tests.unit.ingest.conftest import DATA

HIP2 = DATA / "hip2_epoch1991.25.csv.gz"

REGION_A = "box:10,30,-10,10"
REGION_B = "box:100,120,20,40"
INSIDE_B = "box:105,115,25,35"
NAME = "grow_stars"


@pytest.fixture(scope="module")
def half_hip2(tmp_path_factory) -> Path:
    """Hipparcos 2 with every other star: a changed input (a new release of a region)."""
    with gzip.open(HIP2, "rt") as fh:
        lines = fh.read().splitlines()
    path = tmp_path_factory.mktemp("hip2") / "hip2_half.csv"
    path.write_text("\n".join(lines[:1] + lines[1::2]) + "\n")
    return path


def _ingest(lake, region: str, path: Path = HIP2):
    return ingest_survey("hip2_csv", path=path, region=region, name=NAME, max_rows_per_partition=100,
                         **lake.kwargs())


def _ids(lake, version: str | None = None) -> set[tuple[str, float]]:
    """Rows by (id, ra)."""
    table = cat.read_catalog(lake.fs, lake.base(NAME), columns=["source_id", "ra"], version=version)
    return set(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True))


def _files(info: cat.CatalogInfo) -> dict[str, tuple[int, str]]:
    return {f: (Path(f).stat().st_mtime_ns, hashlib.sha256(Path(f).read_bytes()).hexdigest())
            for f in cat.partition_files(info)}


def test_a_second_region_grows_the_catalogue_and_leaves_the_first_untouched(lake):
    base = lake.base(NAME)
    first = _ingest(lake, REGION_A)
    info1 = cat.open_catalog(lake.fs, base)
    files_a = _files(info1)
    assert first.n_rows > 0 and len(files_a) > 1

    second = _ingest(lake, REGION_B)
    info2 = cat.open_catalog(lake.fs, base)
    assert info2.version == second.version != first.version
    assert second.n_rows > first.n_rows and info2.metadata["grown_from"] == first.version
    # Region A's partitions are shared, not copied: same files, same bytes, never rewritten.
    assert {f: files_a[f] for f in files_a} == {f: v for f, v in _files(info2).items() if f in files_a}
    assert set(files_a) <= set(cat.partition_files(info2))
    assert _ids(lake) == _ids(lake, first.version) | _ids(lake, second.version) - _ids(lake, first.version)
    ids_b = _ids(lake) - _ids(lake, first.version)
    assert len(ids_b) == second.n_rows - first.n_rows
    # The coverage MOC beside the HATS files holds both regions, and mocpy reads it.
    moc = MOC.load(f"{info2.path}/{coverage.MOC_FILE}", format="fits")
    for region in (REGION_A, REGION_B):
        cells = coverage.region_cells(parse_region(region))
        assert coverage.from_moc(moc)[cells].all()
    assert 0 < info2.metadata["coverage"]["sky_fraction"] < 0.1
    # Every row lies in its partition and inside the version's coverage.
    cov = coverage.from_moc(moc)
    for part in info2.partitions:
        assert cov[coverage.pixel_slice(part["order"], part["pixel"])].all()
    # The older version is still readable by id, whole.
    assert len(_ids(lake, first.version)) == first.n_rows


def test_reingesting_unchanged_input_writes_nothing(lake):
    base = lake.base(NAME)
    _ingest(lake, REGION_A)
    second = _ingest(lake, REGION_B)
    before = {p: p.stat().st_mtime_ns for p in Path(base).rglob("*") if p.is_file()}
    for region in (REGION_B, REGION_A):
        again = _ingest(lake, region)
        assert again.reused and again.version == second.version
    after = {p: p.stat().st_mtime_ns for p in Path(base).rglob("*") if p.is_file()}
    assert after == before


def test_reingesting_part_of_a_region_replaces_only_its_rows(lake, half_hip2):
    base = lake.base(NAME)
    first = _ingest(lake, REGION_A)
    _ingest(lake, REGION_B)
    before = cat.read_catalog(lake.fs, base, columns=["source_id", "ra", "dec"])
    files_a = _files(cat.open_catalog(lake.fs, base, first.version))
    third = _ingest(lake, INSIDE_B, half_hip2)
    after = cat.read_catalog(lake.fs, base, columns=["source_id", "ra", "dec"])
    inner = parse_region(INSIDE_B)

    def split(table):
        inside = inner.contains(table.column("ra").to_numpy(), table.column("dec").to_numpy())
        rows = list(zip(table.column("source_id").to_pylist(), table.column("ra").to_pylist(), strict=True))
        return ({r for r, i in zip(rows, inside, strict=True) if i},
                {r for r, i in zip(rows, inside, strict=True) if not i})

    in_before, out_before = split(before)
    in_after, out_after = split(after)
    assert out_after == out_before  # nothing outside the re-ingested region changed
    assert in_after == _ids(lake, third.version) - out_before and in_after != in_before
    assert len(in_after) + len(out_after) == third.n_rows == after.num_rows
    assert len(_ids(lake)) == after.num_rows
    info3 = cat.open_catalog(lake.fs, base)
    assert {f: v for f, v in _files(info3).items() if f in files_a} == files_a


def test_pruning_keeps_every_file_a_kept_version_lists(lake, half_hip2):
    base = lake.base(NAME)
    first = _ingest(lake, REGION_A)
    second = _ingest(lake, REGION_B)
    third = _ingest(lake, INSIDE_B, half_hip2)
    ids = _ids(lake)
    # The ingest keeps the newest two versions itself (KEEP_VERSIONS): the first is pruned already.
    assert cat.list_versions(lake.fs, base)[first.version] is False
    assert prune_versions(lake.fs, base, keep=1) == [second.version]
    assert cat.current_version(lake.fs, base) == third.version
    assert _ids(lake) == ids  # every shared file the current version lists is still there
    assert cat.list_versions(lake.fs, base)[first.version] is False  # no longer readable as a version
    for f in cat.partition_files(cat.open_catalog(lake.fs, base)):
        assert Path(f).exists()
    # Files only the pruned versions listed are gone.
    left = {str(p) for p in Path(base, "versions", second.version).rglob("*.parquet")}
    assert left <= set(cat.partition_files(cat.open_catalog(lake.fs, base)))
    # A later whole re-ingest of region A (same input) does not overwrite a file the current version shares.
    again = _ingest(lake, REGION_A)
    assert again.reused and _ids(lake) == ids


def test_prune_command_keeps_the_newest_and_what_they_share(lake):
    from typer.testing import CliRunner

    from radiolake.app.cli import app

    base = lake.base(NAME)
    _ingest(lake, REGION_A)
    second = _ingest(lake, REGION_B)
    ids = _ids(lake)
    runner = CliRunner()
    listed = runner.invoke(app, ["lake", "versions", NAME, "--local", lake.catalogs_root])
    assert listed.exit_code == 0, listed.output
    assert second.version in listed.output and str(parse_region(REGION_B)) in listed.output
    # Each version's coverage from its MOC: both boxes (~400 + ~345 deg², cells cut by an edge count whole).
    covered = coverage.read_coverage(lake.fs, base, second.version)
    assert 740 < coverage.area_deg2(covered) < 900
    row = next(line for line in listed.output.splitlines() if line.startswith(second.version))
    assert f"{coverage.area_deg2(covered):,.1f}" in row and f"{coverage.sky_fraction(covered):.5f}" in row
    pruned = runner.invoke(app, ["lake", "prune", NAME, "--keep", "1", "--local", lake.catalogs_root])
    assert pruned.exit_code == 0, pruned.output
    assert [v for v, ok in cat.list_versions(lake.fs, base).items() if ok] == [second.version]
    assert _ids(lake) == ids
    refused = runner.invoke(app, ["lake", "prune", NAME, "--keep", "0", "--local", lake.catalogs_root])
    assert refused.exit_code != 0


def test_a_synthetic_sky_replaces_rather_than_grows(lake):
    """Each region of a synthetic sky is drawn on its own and numbered from 1: the regions are not one sky."""
    base = lake.base("synthetic_stars")
    ingest_survey("synthetic_stars", rows=2000, seed=1, region=REGION_A, **lake.kwargs())
    second = ingest_survey("synthetic_stars", rows=2000, seed=1, region=REGION_B, **lake.kwargs())
    info = cat.open_catalog(lake.fs, base)
    assert info.version == second.version and info.n_rows == 2000 and info.metadata["grown_from"] is None


def _grown_catalogue(lake) -> cat.CatalogInfo:
    """Region A, then region B: the grown version shares every partition of A."""
    first = _ingest(lake, REGION_A)
    _ingest(lake, REGION_B)
    info = cat.open_catalog(lake.fs, lake.base(NAME))
    assert info.metadata["grown_from"] == first.version and any(p.get("version") for p in info.partitions)
    return info


def test_a_grown_version_is_a_whole_hats_catalogue(lake):
    """Its _metadata lists the row groups of every partition, the shared ones where they live; partition_info
    and properties count them all; pyarrow reads every row of the version through the _metadata alone."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    info = _grown_catalogue(lake)
    root = Path(info.path)
    dataset = ds.parquet_dataset(str(root / "dataset" / "_metadata"))
    listed = {str(Path(f).resolve()) for f in dataset.files}
    assert listed == {str(Path(f).resolve()) for f in cat.partition_files(info)}
    row_groups = {str(Path(frag.path).resolve()): frag.metadata.num_row_groups for frag in dataset.get_fragments()}
    assert row_groups == {str(Path(f).resolve()): pq.ParquetFile(f).metadata.num_row_groups
                          for f in cat.partition_files(info)}
    table = dataset.to_table(columns=["source_id", "ra"])
    assert table.num_rows == info.n_rows == len(_ids(lake))
    assert set(zip(table.column(0).to_pylist(), table.column(1).to_pylist(), strict=True)) == _ids(lake)
    # The same files and rows through metadata_dataset (what an object store, which resolves no `..`, needs).
    from radiolake.ingest.hats_files import metadata_dataset, metadata_files

    assert sorted(metadata_files(lake.fs, info.path)) == sorted(cat.partition_files(info))
    assert metadata_dataset(lake.fs, info.path).count_rows() == info.n_rows
    # The HATS point map (rows per cell, what hats/LSDB build a catalogue's .moc from) counts every row,
    # the shared partitions' included, and lies inside the version's coverage.
    from radiolake.ingest.hats_files import read_point_map

    counts = read_point_map(lake.fs, info.path)
    assert counts is not None and counts.sum() == info.n_rows
    assert (coverage.read_coverage(lake.fs, lake.base(NAME), info.version)[counts > 0]).all()
    lines = (root / "partition_info.csv").read_text().splitlines()
    assert lines[0] == "Norder,Npix" and len(lines) - 1 == len(info.partitions)
    props = dict(line.split("=", 1) for line in (root / "properties").read_text().splitlines())
    assert int(props["hats_nrows"]) == info.n_rows


def test_the_path_generator_names_every_file_of_a_grown_version(lake):
    """LSDB computes each partition's path from the root it is given; SharedPartitionPaths sends the shared
    pixels to the version folder holding them (what `lsdb.open_catalog(..., path_generator=...)` calls)."""
    from collections import namedtuple

    from radiolake.ingest.hats_files import SharedPartitionPaths

    info = _grown_catalogue(lake)
    pixel = namedtuple("pixel", "order pixel")
    generate = SharedPartitionPaths.of(info)
    paths = [generate(Path(info.path), pixel(p["order"], p["pixel"])) for p in info.partitions]
    assert [str(p) for p in paths] == cat.partition_files(info)
    assert all(p.exists() for p in paths) and len(generate.owners) == sum(1 for p in info.partitions
                                                                          if p.get("version"))


def test_growing_over_partitions_of_another_schema_fails_clearly(lake):
    """A region cannot grow a catalogue whose shared files have other column types (a changed definition):
    the ingest stops before its commit with a message saying what to do, and CURRENT stays."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    first = _ingest(lake, REGION_A)
    info = cat.open_catalog(lake.fs, lake.base(NAME))
    for path in cat.partition_files(info):  # as an older definition with float32 positions wrote them
        table = pq.read_table(path)
        pq.write_table(table.set_column(table.schema.get_field_index("ra"), "ra",
                                        table.column("ra").cast(pa.float32())), path)
    Path(info.path, "dataset", "_metadata").unlink()  # the footers come from the files themselves
    with pytest.raises(RuntimeError, match="another Parquet schema"):
        _ingest(lake, REGION_B)
    assert cat.current_version(lake.fs, lake.base(NAME)) == first.version
