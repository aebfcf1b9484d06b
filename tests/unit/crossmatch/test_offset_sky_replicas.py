"""Offset skies by per-sky replicas (each sky's rows where their own shifted cones reach) and by the ra/dec
boxes the driver falls back to above engine.MAX_SKY_REPLICA_ROWS: the same tables, and astropy's pairs."""

from __future__ import annotations

import pandas as pd
import pytest

import radiolake.crossmatch.engine as engine
from radiolake.crossmatch.core import crossmatch_frames
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky
from tests.unit.crossmatch.xmatch_skies import assert_same_pairs, astropy_pairs


def _sorted(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return df.sort_values(keys).reset_index(drop=True)[sorted(df.columns)]


@pytest.mark.parametrize("where", ["ra0", "north_pole"])
def test_per_sky_replicas_and_boxes_give_the_same_tables(monkeypatch, where):
    radio, stars = make_sky(13, where, 300, 800, 60.0, 0.02)
    args = dict(n_offsets=8, offset_arcmin=2.0, run_id="same", chunk_rows=100)
    replicas = crossmatch_frames(radio, stars, 6.0, **args)
    monkeypatch.setattr(engine, "MAX_SKY_REPLICA_ROWS", 0)
    boxes = crossmatch_frames(radio, stars, 6.0, **args)
    pairs = ["radio_id", "star_id"]
    pd.testing.assert_frame_equal(_sorted(replicas["pairs"], pairs), _sorted(boxes["pairs"], pairs))
    stats = ["region_pixel", "radius_arcsec"]
    assert replicas["offset_stats"]["false_matches_total"].sum() > 0  # the offset skies found something
    pd.testing.assert_frame_equal(_sorted(replicas["offset_stats"], stats), _sorted(boxes["offset_stats"], stats))
    assert_same_pairs(replicas["pairs"], astropy_pairs(radio, stars, 6.0), 6.0)
