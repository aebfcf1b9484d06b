"""A user's star file in no particular order is sorted once by healpix into row groups of its own, kept in the
input cache under the state directory, and reused by the next run of the same file; a changed file is not."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radiolake.crossmatch.io import catalogue_files
from radiolake.crossmatch.star_chunks import filesystem, row_groups
from radiolake.crossmatch.user_input import canonical_table, healpix_ordered, prepare_input

N = 20_000


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RADIOLAKE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("RADIOLAKE_INPUT_CACHE", raising=False)


def _stars(seed: int = 3) -> pa.Table:
    """Canonical stars (string ids, float64, order-29 healpix) over 4x4 deg, in random row order."""
    rng = np.random.default_rng(seed)
    table = pa.table({"source_id": [f"s{i}" for i in range(N)], "ra": rng.uniform(10, 14, N),
                      "dec": rng.uniform(-2, 2, N), "epoch": np.full(N, 2016.0), "mag": rng.uniform(5, 20, N)})
    return canonical_table(table, "stars")


def _write_unsorted(path: Path, table: pa.Table, row_group_size: int = 4_000) -> Path:
    pq.write_table(table, path, row_group_size=row_group_size)
    return path


def _groups(location: str) -> list:
    files, _, s3 = catalogue_files(location)
    return [g for f in files for g in row_groups(filesystem(s3), f)[1]]


def test_an_unsorted_file_is_sorted_once_into_the_cache_and_reused(tmp_path):
    stars = _stars()
    path = _write_unsorted(tmp_path / "mine.parquet", stars)
    fs = filesystem(False)
    assert not healpix_ordered(fs, [str(path)])  # every row group spans the whole patch
    copy = prepare_input(str(path), "stars", workdir=tmp_path / "work")
    assert Path(copy).is_relative_to(tmp_path / "state") and Path(copy).name == "mine"
    assert healpix_ordered(fs, catalogue_files(copy)[0])
    groups = _groups(copy)
    assert all(a.hp_max < b.hp_min for a, b in zip(groups, groups[1:], strict=False))  # disjoint, ascending
    got = pq.read_table(copy).sort_by("source_id")
    assert got.equals(stars.sort_by("source_id"))  # every row and column, nothing lost or changed
    parts = sorted(Path(copy).glob("*.parquet"))
    stamps = [p.stat().st_mtime_ns for p in parts]
    assert prepare_input(str(path), "stars", workdir=tmp_path / "work") == copy  # the next run: the same copy
    assert [p.stat().st_mtime_ns for p in parts] == stamps  # not written again


def test_a_changed_file_gets_a_new_copy(tmp_path):
    path = _write_unsorted(tmp_path / "mine.parquet", _stars(3))
    first = prepare_input(str(path), "stars")
    mtime = path.stat().st_mtime_ns
    changed = _stars(4)
    _write_unsorted(path, changed)
    os.utime(path, ns=(mtime, mtime))  # same path and mtime: the footer (statistics) still tells them apart
    second = prepare_input(str(path), "stars")
    assert second != first
    assert pq.read_table(second).sort_by("source_id").equals(changed.sort_by("source_id"))


def test_one_large_row_group_is_split_even_when_sorted(tmp_path, monkeypatch):
    """A row group is one task: a file written as one big row group (pyarrow's and pandas' default of 1 Mi
    rows) would use one core."""
    import radiolake.crossmatch.user_input as user_input

    monkeypatch.setattr(user_input, "MAX_GROUP_ROWS", N // 4)
    monkeypatch.setattr(user_input, "ROW_GROUP_ROWS", N // 8)
    path = _write_unsorted(tmp_path / "big.parquet", _stars().sort_by("healpix"), row_group_size=N)
    copy = prepare_input(str(path), "stars")
    assert copy != str(path)
    assert len(_groups(copy)) >= 8 and max(g.n_rows for g in _groups(copy)) <= N // 8


def test_sorted_files_with_small_row_groups_are_read_in_place(tmp_path):
    path = _write_unsorted(tmp_path / "sorted.parquet", _stars().sort_by("healpix"))
    assert prepare_input(str(path), "stars") == str(path)
    assert not (tmp_path / "state").exists()  # nothing written


def test_with_the_cache_off_the_copy_goes_to_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIOLAKE_INPUT_CACHE", "off")
    (tmp_path / "work").mkdir()
    path = _write_unsorted(tmp_path / "mine.parquet", _stars())
    copy = prepare_input(str(path), "stars", workdir=tmp_path / "work")
    assert Path(copy).is_relative_to(tmp_path / "work") and not (tmp_path / "state").exists()


def test_least_recently_used_copies_go_above_the_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("RADIOLAKE_INPUT_CACHE_GB", "0.000001")  # ~1 kB: room for no copy but the newest
    first = prepare_input(str(_write_unsorted(tmp_path / "a.parquet", _stars(3))), "stars")
    second = prepare_input(str(_write_unsorted(tmp_path / "b.parquet", _stars(4))), "stars")
    assert Path(second).exists() and not Path(first).exists()
