"""Run footprints (issue 22): coverage cells become order-29 ranges that hold exactly the cells' rows."""

from __future__ import annotations

import numpy as np

from radiolake.ingest import coverage
from radiolake.ingest.region import parse_region
from radiolake.warehouse.footprints import SKY_END, add_footprint, ranges_of


def _inside(ranges: list[list[int]], healpix29: np.ndarray) -> np.ndarray:
    lo, hi = np.array([r[0] for r in ranges]), np.array([r[1] for r in ranges])
    i = np.searchsorted(lo, healpix29, side="right") - 1
    return (i >= 0) & (healpix29 < hi[np.clip(i, 0, None)])


def test_ranges_hold_the_cells_and_nothing_else():
    mask = coverage.region_cells(parse_region("cone:120,-30,5"))
    ranges = ranges_of(mask, coverage.COVERAGE_ORDER)
    assert all(lo < hi for lo, hi in ranges) and ranges == sorted(ranges)
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:], strict=False))  # merged: no touching ranges
    rng = np.random.default_rng(3)
    fine = rng.integers(0, SKY_END, 200_000, dtype=np.int64)
    in_cells = mask[fine >> (2 * (29 - coverage.COVERAGE_ORDER))]
    np.testing.assert_array_equal(_inside(ranges, fine), in_cells)
    assert in_cells.any()
    assert ranges_of(np.ones_like(mask), coverage.COVERAGE_ORDER) == [[0, SKY_END]]
    assert ranges_of(np.zeros_like(mask), coverage.COVERAGE_ORDER) == []


def test_a_footprint_the_run_recorded_is_kept():
    run = {"run_id": "r", "footprint": {"order": 29, "ranges": [[0, 4]]}}
    add_footprint(run, None)
    assert run["footprint"]["ranges"] == [[0, 4]]
    bare = {"run_id": "r"}
    add_footprint(bare, None)  # nothing to read it from: no footprint, the marts take the whole sky
    assert "footprint" not in bare
