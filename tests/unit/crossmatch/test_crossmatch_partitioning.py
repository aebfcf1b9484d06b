"""Partitioning: the replica rule covers every pixel a cone touches; join order; pushdown ranges."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from radiolake.crossmatch.partitioning import (
    PIXEL_TO_REACH,
    choose_join_order,
    fine_ranges,
    home_pixels,
    pixel_size_arcsec,
    radio_replicas,
)
from radiolake.crossmatch.sky import offset_by
from tests.unit.crossmatch.test_crossmatch_pairs import corner_of_pixel


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    order=st.integers(2, 12),
    where=st.sampled_from(["corner", "pole", "ra0", "any"]),
    fraction=st.floats(0.05, 1.0),
)
def test_replicas_cover_every_pixel_inside_the_cone(seed, order, where, fraction):
    rng = np.random.default_rng(seed)
    reach = fraction * pixel_size_arcsec(order) / PIXEL_TO_REACH
    n = 30
    if where == "corner":
        ra0, dec0 = corner_of_pixel(order, seed)
        ra, dec = offset_by(
            np.full(n, ra0),
            np.full(n, dec0),
            rng.uniform(0, 2 * np.pi, n),
            np.radians(rng.uniform(0, 2 * reach, n) / 3600),
        )
    elif where == "pole":
        ra, dec = rng.uniform(0, 360, n), rng.choice([-1, 1], n) * (90 - rng.uniform(0, 3 * reach / 3600, n))
    elif where == "ra0":
        ra, dec = rng.uniform(-2 * reach, 2 * reach, n) / 3600 % 360, rng.uniform(-89, 89, n)
    else:
        ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    rows, keys = radio_replicas(ra, dec, reach, order)
    have = set(zip(rows.tolist(), keys.tolist(), strict=True))
    assert len(have) == rows.size  # each (row, key) once
    # dense probe points inside every cone (boundary included) must all fall in a replica pixel
    m = 400
    pa = rng.uniform(0, 2 * np.pi, (n, m))
    dist = reach * np.sqrt(rng.uniform(0, 1, (n, m)))
    dist[:, :64] = reach  # on the circle itself
    pra, pdec = offset_by(np.repeat(ra[:, None], m, 1), np.repeat(dec[:, None], m, 1), pa, np.radians(dist / 3600))
    probe = home_pixels(pra.ravel(), pdec.ravel(), order).reshape(n, m)
    for i in range(n):
        for k in set(probe[i].tolist()):
            assert (i, k) in have, (i, k, ra[i], dec[i])


def test_join_order_keeps_pixels_ten_times_the_reach():
    assert choose_join_order(2.0) == 8
    order = choose_join_order(400.0)
    assert pixel_size_arcsec(order) >= PIXEL_TO_REACH * 400.0 > pixel_size_arcsec(order + 1)
    with pytest.raises(ValueError, match="too large"):
        choose_join_order(30_000.0)


def test_fine_ranges_cover_exactly_the_pixels():
    ranges = fine_ranges(np.array([5, 3, 4, 9]), order=2)
    shift = 2 * (29 - 2)
    assert ranges == [(3 << shift, (6 << shift) - 1), (9 << shift, (10 << shift) - 1)]
