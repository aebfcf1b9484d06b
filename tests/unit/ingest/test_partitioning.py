"""HEALPix partitions: each row in the partition its position says, counts add up, reruns idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import astropy.units as u
import cdshealpix.nested as hp
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.coordinates import Latitude, Longitude

from radiolake.ingest import catalog as cat
from radiolake.ingest.partition_writer import plan_partitions
from radiolake.ingest.run import ingest_survey


def test_every_row_in_its_partition_and_counts_add_up(lake):
    result = ingest_survey(
        "synthetic_stars", rows=30_000, seed=5, max_rows_per_partition=2_000, **lake.kwargs()
    )
    info = cat.open_catalog(lake.fs, lake.base("synthetic_stars"))
    orders = {p["order"] for p in info.partitions}
    assert len(orders) > 1  # adaptive: dense (galactic plane) regions split deeper
    total = 0
    for p in info.partitions:
        t = pq.read_table(f"{info.path}/{p['path']}")
        fine = t.column("healpix").to_numpy()
        assert (fine >> (2 * (29 - p["order"])) == p["pixel"]).all()
        assert t.num_rows == p["rows"] <= 2_000
        recomputed = hp.lonlat_to_healpix(
            Longitude(t.column("ra").to_numpy() * u.deg), Latitude(t.column("dec").to_numpy() * u.deg), 29
        ).astype(np.int64)
        np.testing.assert_array_equal(fine, recomputed)
        total += t.num_rows
    assert total == info.n_rows == result.n_rows == 30_000
    lines = Path(info.path, "partition_info.csv").read_text().split()
    assert lines[0] == "Norder,Npix" and len(lines) - 1 == len(info.partitions)
    props = dict(line.split("=", 1) for line in Path(info.path, "properties").read_text().splitlines())
    assert int(props["hats_nrows"]) == 30_000 and props["hats_col_healpix"] == "healpix"
    assert pq.read_metadata(f"{info.path}/dataset/_metadata").num_rows == 30_000
    ids = cat.read_catalog(lake.fs, lake.base("synthetic_stars"), columns=["source_id"]).column(0).to_pylist()
    assert len(set(ids)) == 30_000


def test_plan_partitions_splits_only_what_is_too_big():
    hist = np.zeros(12 * 4**3, np.int64)
    hist[0] = 50  # all in the first order-3 pixel of base pixel 0
    hist[64 * 5 : 64 * 6] = 1  # base pixel 5 holds 64 spread rows
    parts = plan_partitions(hist, 3, max_rows=60)
    assert sum(p.rows for p in parts) == 114
    assert all(p.rows <= 60 for p in parts if p.order < 3)
    assert [(p.order, p.pixel) for p in parts if p.rows == 50] == [(0, 0)]
    assert {p.order for p in parts if p.pixel // 4**p.order == 5} == {1}  # 64 > 60 → split once


def test_reingest_is_idempotent_and_stale_attempts_are_cleaned(lake):
    first = ingest_survey("synthetic_radio", rows=5_000, seed=1, **lake.kwargs())
    base = lake.base("synthetic_radio")
    files = sorted(Path(first.catalog_path).rglob("*.parquet"))
    mtimes = [f.stat().st_mtime_ns for f in files]
    # A killed attempt left a half-written version: it must not be taken as whole, and is cleaned.
    stale = Path(base, "versions", "vdeadbeef")
    (stale / "dataset").mkdir(parents=True)
    (stale / "metadata.json").write_text("{}")
    with pytest.raises(cat.CatalogNotFound):
        cat.open_catalog(lake.fs, base, "vdeadbeef")
    again = ingest_survey("synthetic_radio", rows=5_000, seed=1, **lake.kwargs())
    assert again.reused and again.version == first.version
    assert [f.stat().st_mtime_ns for f in files] == mtimes  # nothing rewritten
    assert cat.list_versions(lake.fs, base) == {first.version: True, "vdeadbeef": False}
    other = ingest_survey("synthetic_radio", rows=5_000, seed=2, **lake.kwargs())
    assert other.version != first.version and not stale.exists()
    assert json.loads(Path(base, "CURRENT").read_text())["version"] == other.version
    truth = pq.read_table(f"{other.catalog_path}/truth.parquet")
    assert truth.num_rows == other.metadata["provenance"]["synthetic"]["n_radio_stars"] == 10
