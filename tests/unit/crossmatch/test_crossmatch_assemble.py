"""The driver's output path at survey scale: ids in Arrow, ranking and offset statistics on integer rows, the
radio catalogue read twice (match columns, then only the matched rows), identical to the direct computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from radiolake.crossmatch.assemble import rank_order
from radiolake.crossmatch.engine import RadioRows, radio_columns, split_skies
from radiolake.crossmatch.io import read_arrow, read_rows
from radiolake.crossmatch.offsets import offset_stats_from_rows, radius_grid
from radiolake.crossmatch.output import first_occurrences


def test_rank_order_breaks_exact_ties_by_star_id():
    rows = np.array([5, 5, 5, 2, 2, 5])
    sep = np.array([1.0, 0.5, 1.0, 0.3, 0.3, 1.0])
    ids = pa.array(["c", "x", "a", "z", "b", "b"])
    order, rank = rank_order(rows, sep, ids)
    assert order.tolist() == [4, 3, 1, 2, 5, 0]  # row 2: b before z; row 5: 0.5, then the 1.0 tie as a, b, c
    assert rank.tolist() == [1, 2, 1, 2, 3, 4]
    assert rank.dtype == np.int32


def test_offset_stats_from_rows_equal_a_direct_pandas_count():
    rng = np.random.default_rng(7)
    n_radio, n_offsets, search = 500, 4, 6.0
    regions = rng.integers(0, 5, n_radio)
    m = 3000
    offset, row, sep = rng.integers(1, n_offsets + 1, m), rng.integers(0, n_radio, m), rng.uniform(0, search, m)
    got = offset_stats_from_rows(offset, row, sep, regions, n_offsets, search, 3, "r")
    nearest = pd.DataFrame({"o": offset, "r": row, "s": sep}).groupby(["o", "r"])["s"].min().reset_index()
    nearest["region"] = regions[nearest["r"].to_numpy()]
    for radius in radius_grid(search):
        want = nearest.loc[nearest["s"] <= radius].groupby("region").size()
        part = got.loc[got["radius_arcsec"] == radius].set_index("region_pixel")
        assert part["n_radio"].to_dict() == pd.Series(regions).value_counts().to_dict()
        assert part["false_matches_total"].to_dict() == {int(r): int(want.get(r, 0)) for r in part.index}
    assert (got["expected_false_matches"] == got["false_matches_total"] / n_offsets).all()


def test_read_rows_gives_the_rows_read_arrow_would_take(tmp_path):
    """Two files (one lacking a column), several row groups each: the same rows, columns and order."""
    folder = tmp_path / "radio"
    folder.mkdir()
    a = pa.table({"source_id": [f"a{i}" for i in range(25)], "ra": np.arange(25.0), "flux": np.arange(25.0) * 2})
    b = pa.table({"source_id": [f"b{i}" for i in range(17)], "ra": np.arange(17.0) + 100})
    pq.write_table(a, folder / "part-0.parquet", row_group_size=7)
    pq.write_table(b, folder / "part-1.parquet", row_group_size=5)
    whole = read_arrow(str(folder))
    positions = np.array([0, 6, 7, 13, 24, 25, 30, 41])
    got = read_rows(str(folder), positions)
    assert got.schema == whole.schema
    assert got.to_pylist() == whole.take(pa.array(positions)).to_pylist()
    assert read_rows(str(folder), np.zeros(0, np.int64)).num_rows == 0
    assert read_arrow(str(folder), columns=["source_id", "flux", "absent"]).column_names == ["source_id", "flux"]


def test_first_occurrences_keeps_the_first_row_of_each_id():
    ids = pa.chunked_array([["s1", "s2", "s1"], ["s3", "s2", "s4"]])
    assert first_occurrences(ids).tolist() == [0, 1, 3, 5]


def test_an_ellipse_given_nowhere_is_left_out_of_the_radio_rows():
    n = 4
    base = {"ra": np.arange(n, dtype=float), "dec": np.zeros(n), "epoch": np.full(n, 2020.0),
            "ra_error": np.ones(n), "dec_error": np.ones(n)}
    none = radio_columns({**base, "pos_err_major": np.full(n, np.nan), "pos_err_minor": np.full(n, np.nan),
                          "pos_err_pa": np.full(n, np.nan)})
    assert "pos_err_major" not in none and "pos_err_pa" not in none
    some = radio_columns({**base, "pos_err_major": np.r_[np.nan, 2.0, np.nan, np.nan],
                          "pos_err_minor": np.ones(n), "pos_err_pa": np.zeros(n)})
    assert {"pos_err_major", "pos_err_minor", "pos_err_pa"} <= set(some)
    sky = RadioRows(none, 1, 3.0).arrays(np.array([1, 2]))
    assert "pos_err_major" not in sky and sky["sky"].tolist() == [1, 2, 5, 6]


def test_split_skies_keeps_every_column_of_real_pairs_and_only_sky_and_separation_of_offset_ones():
    n_radio = 10
    found = {
        "sky": np.array([3, 13, 7, 95, 0]),  # 13 = offset 1 of row 3, 95 = offset 9 of row 5
        "star_idx": np.array([0, 1, 2, 3, 4]),
        "separation_arcsec": np.array([0.1, 0.2, 0.3, 0.4, 0.5]),
        "dt_years": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        "star_class": np.array([0, 2, 3, 4, 5], np.int8),
    }
    real, off = split_skies(found, n_radio)
    assert real["sky"].tolist() == [3, 7, 0] and real["star_idx"].tolist() == [0, 2, 4]
    assert real["dt_years"].tolist() == [1.0, 3.0, 5.0]
    # the offset skies keep the star's population class: the chance rate per population (issue 21)
    assert set(off) == {"sky", "separation_arcsec", "star_class"}
    assert off["sky"].tolist() == [13, 95] and off["separation_arcsec"].tolist() == [0.2, 0.4]
    assert off["star_class"].tolist() == [2, 4]
    real, off = split_skies({k: v[[0, 2]] for k, v in found.items()}, n_radio)
    assert real["sky"].tolist() == [3, 7] and off["sky"].size == 0 and off["separation_arcsec"].size == 0


def test_k_nearest_cuts_after_the_association_so_probabilities_are_those_of_every_candidate():
    """A k-nearest cut only hides rows: each kept pair's probability (and prior, density, LR) is the one it
    has when every candidate within the radius counts in its source's denominator."""
    from radiolake.crossmatch.core import crossmatch_frames
    from tests.unit.crossmatch.test_crossmatch_pairs import make_sky

    radio, stars = make_sky(9, "random", 150, 500, 30.0, 0.0)
    every = crossmatch_frames(radio, stars, 8.0, run_id="k")["pairs"]
    nearest = crossmatch_frames(radio, stars, 8.0, k_nearest=1, run_id="k")["pairs"]
    crowded = every.groupby("radio_id")["star_id"].transform("size") > 1
    assert crowded.sum() > 10  # sources with more than one candidate: where a cut could change the denominator
    keys = ["radio_id", "star_id"]
    ref = every[every["rank"] == 1].sort_values(keys).reset_index(drop=True)
    got = nearest.sort_values(keys).reset_index(drop=True)
    assert list(got["radio_id"]) == list(ref["radio_id"]) and list(got["star_id"]) == list(ref["star_id"])
    for column in ("association_probability", "likelihood_ratio", "star_density_deg2", "p_chance"):
        np.testing.assert_allclose(got[column].to_numpy(), ref[column].to_numpy(), rtol=1e-12, err_msg=column)
