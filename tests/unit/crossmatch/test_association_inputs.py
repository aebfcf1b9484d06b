"""What a run's association prior is fitted from (crossmatch.association_inputs): the sources of two regions,
kept apart and put together in another order, give the priors and probabilities of all of them at once, to the
bit (issue 22: a catalogue grown region by region is scored as one run over it would score it)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from radiolake.crossmatch.association_inputs import FOLDER, AssociationInputs
from radiolake.crossmatch.io import write_arrow
from radiolake.crossmatch.populations import N_CLASSES
from radiolake.crossmatch.priors import _count_weighted


def _sky(n: int = 3000, n_offsets: int = 4, seed: int = 5) -> AssociationInputs:
    """Radio sources in 6 regions; a quarter with a true star near (high LR), every one with chance stars."""
    rng = np.random.default_rng(seed)
    scale = rng.lognormal(0.0, 0.5, n)
    scale[rng.random(n) < 0.05] = np.nan  # unknown errors
    region = rng.integers(0, 6, n)
    per_source = rng.poisson(1.5, n)
    source = np.repeat(np.arange(n), per_source)
    rank = (np.arange(source.size) - np.repeat(np.cumsum(per_source) - per_source, per_source) + 1).astype(np.int32)
    star_class = rng.integers(0, N_CLASSES, source.size)
    lr = rng.exponential(0.3, source.size)
    true = (rank == 1) & (rng.random(source.size) < 0.25)
    lr[true] = rng.lognormal(4.0, 1.0, true.sum())
    star_class[true] = N_CLASSES - 1
    lr[rng.random(source.size) < 0.02] = np.nan
    off_row = rng.integers(0, n, 4 * n)
    offsets = (rng.integers(0, n_offsets, off_row.size), off_row, rng.integers(0, N_CLASSES, off_row.size))
    ids = pa.array([f"racs:{i:05d}" for i in range(n)])
    return AssociationInputs.of_run(ids, region, scale, (source, rank, star_class, lr), offsets, n_offsets)


def _round_trip(inputs: AssociationInputs, folder) -> AssociationInputs:
    for name, table in inputs.tables().items():
        write_arrow(table, f"{folder}/{FOLDER}/{name}")
    return AssociationInputs.read(str(folder))


def test_regions_apart_give_the_priors_and_probabilities_of_all_at_once(tmp_path):
    every = _sky()
    priors = every.fit_priors(4)
    probability = every.probabilities(priors)
    assert 0.05 < priors.run < 0.6 and np.nanmax(probability) > 0.9

    first = _round_trip(every.select(every.region < 2), tmp_path / "r1")
    rest = _round_trip(every.select(every.region >= 2), tmp_path / "r2")
    together = AssociationInputs.concat(rest, first)  # another order than the whole run's
    assert together.n_sources == every.n_sources
    assert together.fit_priors(4) == priors  # every field, to the bit
    pair_ids = every.radio_id.take(pa.array(every.source))  # each candidate's radio source, as a pairs table
    got = together.probabilities(priors)[together.candidate_index(pair_ids, every.rank)]
    np.testing.assert_array_equal(got, probability)

    # a region's sources alone give another prior: what a run over one region measured before it carried on
    assert first.fit_priors(4) != priors


def test_posteriors_sum_per_class_in_any_order():
    rng = np.random.default_rng(1)
    err, pop, w = rng.integers(0, 8, 100_000), rng.integers(0, N_CLASSES, 100_000), rng.random(100_000)
    order = rng.permutation(w.size)
    a, b = _count_weighted(err, pop, w, 8), _count_weighted(err[order], pop[order], w[order], 8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, np.bincount(err * N_CLASSES + pop, w, 8 * N_CLASSES).reshape(8, N_CLASSES),
                               rtol=1e-10)


def test_a_pair_without_inputs_is_an_error_and_a_folder_without_them_none(tmp_path):
    every = _sky(200)
    with pytest.raises(ValueError, match="missing from the association inputs"):
        every.candidate_index(pa.array(["racs:99999"]), np.array([1]))
    with pytest.raises(ValueError, match="candidates"):
        every.candidate_index(every.radio_id.slice(0, 1), np.array([50]))
    assert AssociationInputs.read(str(tmp_path)) is None


def test_a_basis_without_inputs_is_not_carried_on(tmp_path, caplog):
    from radiolake.crossmatch.carry import carry_forward
    from radiolake.crossmatch.increment import Carry

    tables = {"association": _sky(50), "pairs": pa.table({"radio_id": ["racs:00001"]})}
    before = dict(tables)
    carry = Carry(str(tmp_path), "old-run", np.array([0]), 3, (str(tmp_path), str(tmp_path / "new-run"), {}, {}))
    assert carry_forward(tables, carry, 4, "new-run") is None
    assert tables == before and "old-run kept no association inputs" in caplog.text
