"""The driver's output path: the engine's raw pairs of every sky -> the result tables, in numpy and Arrow.

Shared by the Spark job and the in-memory core. At survey scale (10 M radio sources, millions of pairs) what
costs memory is not the pairs but their string ids: the radio and star ids stay Arrow arrays, and are only
gathered (`take`) for the output rows; ranking, density, priors and the association run on integer radio rows
and float arrays. Only exact separation ties compare star ids, and only those few are turned into Python
strings. The tables come out as Arrow tables with PAIRS_SCHEMA, ready to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from radiolake.crossmatch.arrays import string_array, unique_ints
from radiolake.crossmatch.association_inputs import AssociationInputs
from radiolake.crossmatch.density import class_densities_at, p_chance
from radiolake.crossmatch.likelihood import likelihood_ratio
from radiolake.crossmatch.match_config import MatchConfig
from radiolake.crossmatch.offsets import offset_stats_from_rows, region_pixels
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS
from radiolake.crossmatch.plan import MatchPlan
from radiolake.crossmatch.populations import population_names
from radiolake.results import PAIRS_SCHEMA
from radiolake.surveys.positional_errors import error_scale

#: Per-pair float/bool columns of the engine's result that go to the pairs table as they are.
PAIR_VALUES = ("separation_arcsec", "separation_sigma", "combined_error_arcsec", "dt_years", "pm_applied",
               "star_ra_at_epoch", "star_dec_at_epoch")


def rank_order(rows: np.ndarray, sep: np.ndarray, star_id: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(order, rank): pairs sorted by radio row then separation, rank 1 = nearest star of each radio row.

    Exact separation ties within a row are ordered by star id (so ranks are deterministic); only those pairs'
    ids are gathered from Arrow."""
    order = np.lexsort((sep, rows))
    g, s = rows[order], sep[order]
    tie = np.flatnonzero((g[1:] == g[:-1]) & (s[1:] == s[:-1]))
    if tie.size:
        for a in tie[np.r_[True, np.diff(tie) > 1]]:
            b = a + 1
            while b < g.size and g[b] == g[a] and s[b] == s[a]:
                b += 1
            block = order[a:b]
            ids = np.array(pc.cast(star_id.take(pa.array(block)), pa.string()).to_pylist(), dtype=str)
            order[a:b] = block[np.argsort(ids, kind="stable")]
    g = rows[order]
    if not g.size:
        return order, np.zeros(0, np.int32)
    first = np.r_[True, g[1:] != g[:-1]]
    start = np.maximum.accumulate(np.where(first, np.arange(g.size), 0))
    return order, (np.arange(g.size) - start + 1).astype(np.int32)


def _floats(values: np.ndarray) -> pa.Array:
    """A float column as the pairs table holds it: NaN (unknown) is null."""
    return pa.array(np.asarray(values, dtype=np.float64), type=pa.float64(), from_pandas=True)


@dataclass
class SkyPairs:
    """The engine's raw pairs of a run. found: per pair of the real sky, `sky` (= radio row), PAIR_VALUES,
    `search_fraction` and `star_class` (the star's population class, populations.py); star_id: per found
    pair; offset: per pair of an offset sky, `sky` (= offset * n_radio + radio row), `separation_arcsec` and
    `star_class` (engine.split_skies)."""

    found: Mapping[str, np.ndarray]
    star_id: pa.Array | pa.ChunkedArray
    offset: Mapping[str, np.ndarray]

    @cached_property
    def matched_rows(self) -> np.ndarray:
        """The radio rows with a pair of the real sky, sorted, once each."""
        return unique_ints(np.asarray(self.found["sky"], dtype=np.int64))


def assemble_tables(
    pairs: SkyPairs,
    radio_ids: pa.Array | pa.ChunkedArray,
    radio: Mapping[str, np.ndarray],
    star_density_counts: tuple[np.ndarray, np.ndarray],
    plan: MatchPlan,
    config: MatchConfig,
    run_id: str,
) -> dict[str, Any]:
    """The result tables from the engine's raw pairs: {'pairs', 'best' (Arrow, PAIRS_SCHEMA), 'offset_stats'
    (pandas, OFFSET_STATS_SCHEMA columns), 'priors', 'association' (what the priors were fitted from,
    association_inputs.AssociationInputs)}.

    radio_ids: per radio row. radio: per radio row, ra, dec and the positional-error columns (ra_error,
    dec_error, ELLIPSE_COLUMNS where given); their error scale det(C)^(1/4) (NaN: unknown) picks the row's
    prior class. star_density_counts: sorted (pixel at density_order * N_CLASSES + population class, valid
    stars in it: density.class_counts), over at least every pixel next to a matched radio source. Each pair is
    weighed against the density and prior of its own population class: a star at 30 pc against the stars
    that near, a source with no stellar evidence against the quasars and galaxies."""
    rows = np.asarray(pairs.found["sky"], dtype=np.int64)
    star_class = np.asarray(pairs.found.get("star_class", np.zeros(rows.size, np.int8)), dtype=np.int64)
    radio_error_scale = error_scale(*(radio.get(c) for c in ("ra_error", "dec_error", *ELLIPSE_COLUMNS)))
    # a population's share, toward which its local density is shrunk, is measured over the radio source's
    # statistics region (its pixel at region_order): a run over some regions gives them what a run over all
    # gives them (issue 22, density.region_shares)
    regions = region_pixels(radio["ra"], radio["dec"], config.region_order)
    offset_pairs, stats = _offset_skies(pairs, radio, regions, plan, config, run_id)

    # the real sky's pairs: rank, density, p_chance, the association over every candidate, then the k-nearest
    # cut (cutting first would drop candidates from each source's denominator: overconfident probabilities)
    found = pairs.found
    pick, rank = rank_order(rows, np.asarray(found["separation_arcsec"], dtype=np.float64), pairs.star_id)
    rows, star_class = rows[pick], star_class[pick]
    matched = pairs.matched_rows
    by_pixel, row_of = class_densities_at(radio["ra"][matched], radio["dec"][matched], regions[matched],
                                          *star_density_counts, config.density_order)
    density = by_pixel[row_of[np.searchsorted(matched, rows)], star_class]
    values = {k: np.asarray(found[k])[pick] for k in PAIR_VALUES}
    # The offset density of a true pair is normalised over the region searched (positional_errors.
    # search_fraction F), not the whole plane: LR = f / (F rho), passed as the density F rho.
    searched = np.asarray(found["search_fraction"], dtype=np.float64)[pick] if "search_fraction" in found else 1.0
    lr = likelihood_ratio(values["separation_sigma"], values["combined_error_arcsec"], density * searched)
    # the priors per (radio error class, population class): from the offset skies' counts, refined by EM, from
    # what each source brought (kept with the run: a later run over a grown catalogue fits them over all)
    inputs = AssociationInputs.of_run(radio_ids, regions, radio_error_scale, (rows, rank, star_class, lr),
                                      offset_pairs, config.n_offsets)
    priors = inputs.fit_priors(config.n_offsets)
    prob = inputs.probabilities(priors)
    if config.k_nearest is not None:
        keep = rank <= config.k_nearest
        pick, rows, rank, star_class, density, lr, prob = (
            a[keep] for a in (pick, rows, rank, star_class, density, lr, prob))
        values = {k: v[keep] for k, v in values.items()}
    columns = {
        "run_id": pa.repeat(pa.scalar(run_id, pa.string()), pick.size),
        "radio_id": string_array(radio_ids.take(pa.array(rows))),
        "star_id": string_array(pairs.star_id.take(pa.array(pick))),
        "rank": pa.array(rank, pa.int32()),
        "star_density_deg2": _floats(density),
        "p_chance": _floats(p_chance(values["separation_arcsec"], density)),
        "pm_applied": pa.array(np.asarray(values.pop("pm_applied"), dtype=bool), pa.bool_()),
        **{k: _floats(v) for k, v in values.items()},
        "likelihood_ratio": _floats(lr),
        "association_probability": _floats(prob),
        "population": pa.array(population_names(star_class), pa.string()),
    }
    table = pa.Table.from_arrays([columns[f.name] for f in PAIRS_SCHEMA], schema=PAIRS_SCHEMA)
    return {"pairs": table, "best": table.filter(pc.equal(table.column("rank"), 1)), "offset_stats": stats,
            "priors": priors, "association": inputs}


def _offset_skies(pairs: SkyPairs, radio: Mapping[str, np.ndarray], regions: np.ndarray, plan: MatchPlan,
                  config: MatchConfig, run_id: str) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], Any]:
    """The offset skies' share: their pairs as (offset sky, radio row, population class), for the priors, and
    the false-match statistics per region and radius."""
    n_radio = int(np.asarray(radio["ra"]).size)
    off_sky = np.asarray(pairs.offset["sky"], dtype=np.int64)
    off_offset, off_row = off_sky // max(n_radio, 1), off_sky % max(n_radio, 1)
    off_class = np.asarray(pairs.offset.get("star_class", np.zeros(off_row.size, np.int8)), dtype=np.int64)
    stats = offset_stats_from_rows(off_offset, off_row, np.asarray(pairs.offset["separation_arcsec"]), regions,
                                   config.n_offsets, plan.criteria.search_arcsec, config.region_order, run_id)
    return (off_offset, off_row, off_class), stats
