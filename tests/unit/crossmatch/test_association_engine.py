"""The association step and the radio error ellipses carried through the engine: both search paths (star
chunks and the fast movers' own search), the numpy core and the Spark job alike."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.engine import displacement_arcsec
from radiolake.crossmatch.inputs import RADIO_READ
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, MatchCriteria, evaluate_pairs
from radiolake.crossmatch.plan import SLOW_LIMIT_ARCSEC
from radiolake.crossmatch.priors import offset_hits, priors_from_sources
from radiolake.crossmatch.star_chunks import float_arrays
from tests.unit.crossmatch.drivers import spark_run
from tests.unit.crossmatch.test_crossmatch_pairs import make_sky
from tests.unit.crossmatch.test_crossmatch_spark import write_hats
from tests.unit.crossmatch.xmatch_skies import catalogue


def with_ellipses(radio: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Half the radio rows get an elongated error ellipse (the others keep their diagonal RA/Dec errors)."""
    rng = np.random.default_rng(seed)
    n = len(radio)
    has = rng.random(n) < 0.5
    major = rng.uniform(1.0, 4.0, n)
    return radio.assign(
        pos_err_major=np.where(has, major, np.nan),
        pos_err_minor=np.where(has, major * rng.uniform(0.1, 0.5, n), np.nan),
        pos_err_pa=np.where(has, rng.uniform(0, 180, n), np.nan),
    )


def _columns(frame: pd.DataFrame, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """A frame's columns as the driver reads them (float64, NaN for nulls and absent columns)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return float_arrays(table) if names is None else float_arrays(table, names)


def test_ellipse_sigma_is_the_same_on_both_search_paths_as_a_direct_evaluation():
    radio, stars = make_sky(5, "ra0", 150, 300, 60.0, 0.2)
    radio = with_ellipses(radio, 5)
    got = crossmatch_frames(radio, stars, 8.0)["pairs"]
    # the fast movers' own search was used for some of the pairs
    disp = displacement_arcsec(_columns(stars), radio["epoch"].min(), radio["epoch"].max())
    fast_ids = set(stars["source_id"][disp > SLOW_LIMIT_ARCSEC])
    assert got["star_id"].isin(fast_ids).any() and (~got["star_id"].isin(fast_ids)).any()

    r, s = _columns(radio, RADIO_READ[1:]), _columns(stars)
    i = pd.Index(radio["source_id"]).get_indexer(got["radio_id"])
    j = pd.Index(stars["source_id"]).get_indexer(got["star_id"])
    ref = evaluate_pairs(r, s, i, j, MatchCriteria(8.0, None, 8.0))
    assert ref["radio_idx"].size == len(got)  # every pair passes the direct test
    np.testing.assert_allclose(got["separation_sigma"], ref["separation_sigma"], rtol=1e-9)
    np.testing.assert_allclose(got["combined_error_arcsec"], ref["combined_error_arcsec"], rtol=1e-9)
    diagonal = evaluate_pairs({k: v for k, v in r.items() if k not in ELLIPSE_COLUMNS}, s, i, j,
                              MatchCriteria(8.0, None, 8.0))
    elliptic = np.isfinite(radio["pos_err_major"].to_numpy())[i]
    assert elliptic.any()
    assert not np.allclose(got["separation_sigma"][elliptic], diagonal["separation_sigma"][elliptic])
    np.testing.assert_allclose(got["separation_sigma"][~elliptic], diagonal["separation_sigma"][~elliptic])


def test_n_sigma_search_reaches_along_the_major_axis():
    """The search bound of an n-sigma match must cover the largest error axis, not only the RA/Dec errors."""
    radio = catalogue("radio", np.array([10.0]), np.array([0.0]), np.array([2016.0]),
                      ra_error=0.5, dec_error=0.5).assign(pos_err_major=3.0, pos_err_minor=0.5, pos_err_pa=90.0)
    stars = catalogue("star", np.array([10.0 + 2.5 / 3600]), np.array([0.0]), np.array([2016.0]),
                      ra_error=0.01, dec_error=0.01)
    pairs = crossmatch_frames(radio, stars, n_sigma=1.0)["pairs"]
    assert len(pairs) == 1
    assert pairs["separation_sigma"].iloc[0] == pytest.approx(2.5 / np.hypot(3.0, 0.01), rel=1e-6)


def test_priors_count_sources_per_error_class():
    scales = np.array([1.0, 2.0, np.nan, 4.0])
    offsets = np.array([1, 1, 2, 1])
    rows = np.array([0, 0, 0, 3])  # sky 1 found source 0 twice: one chance match
    classes = np.zeros(4, np.int64)  # every star of the first population class
    p = priors_from_sources(scales, np.array([0, 0, 2, 3]), classes, offset_hits(offsets, rows, classes, 4, 2), 2)
    assert sum(p.n_radio) == 3  # the source of unknown error has no class
    assert sum(p.n_matched) == 2
    assert sum(p.expected_false) == pytest.approx(1.5)  # (2 for source 0 + 1 for source 3) / 2 skies
    assert p.expected_false[0] == pytest.approx(1.0) and p.n_radio[0] == 1


def test_spark_job_carries_association_and_ellipses(spark, tmp_path):
    radio, stars = make_sky(7, "corner", 200, 400, 60.0, 0.05)
    radio = with_ellipses(radio, 7)
    radio.to_parquet(tmp_path / "radio.parquet")
    write_hats(stars, tmp_path / "stars")
    out = tmp_path / "run"
    args = dict(radius_arcsec=6.0, n_offsets=4, offset_arcmin=2.0, run_id="a1")
    summary = spark_run(spark, str(tmp_path / "radio.parquet"), str(tmp_path / "stars"), str(out), **args)
    ref = crossmatch_frames(radio, stars, 6.0, n_offsets=4, offset_arcmin=2.0, run_id="a1")
    keys = ["radio_id", "star_id"]
    got = pd.read_parquet(out / "pairs").sort_values(keys).reset_index(drop=True)
    want = ref["pairs"].sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert got["association_probability"].notna().all() and got["likelihood_ratio"].notna().all()
    assert got["association_probability"].between(0, 1).all()
    assert (got.groupby("radio_id")["association_probability"].sum() <= 1 + 1e-9).all()
    assert sum(ref["priors"].expected_false) > 0  # the offset skies gave the chance matches
    assert summary["association_prior"] == json.loads(json.dumps(ref["priors"].as_dict()))
    sources = pd.read_parquet(out / "radio_sources")
    assert set(ELLIPSE_COLUMNS) <= set(sources.columns)
