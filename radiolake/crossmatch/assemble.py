"""The driver's output path: the engine's raw pairs of every sky -> the result tables, in numpy and Arrow.

Shared by the Spark job and the in-memory core. At survey scale (10 M radio sources, millions of pairs) what
costs memory is not the pairs but their string ids: the radio and star ids stay Arrow arrays, and are only
gathered (`take`) for the output rows; ranking, density, priors and the association run on integer radio rows
and float arrays. Only exact separation ties compare star ids, and only those few are turned into Python
strings. The tables come out as Arrow tables with PAIRS_SCHEMA, ready to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from radiolake.crossmatch.associate import association_arrays, priors_from_rows
from radiolake.crossmatch.density import density_from_counts, neighbourhood, p_chance
from radiolake.crossmatch.offsets import offset_stats_from_rows, region_pixels
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS
from radiolake.crossmatch.positional_errors import error_scale
from radiolake.results import PAIRS_SCHEMA

if TYPE_CHECKING:
    from radiolake.crossmatch.core import MatchPlan

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


def _group_codes(ids: pa.Array) -> np.ndarray:
    """An integer code per distinct id (the association groups a radio source's pairs by its id)."""
    return pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False).astype(np.int64)


def _floats(values: np.ndarray) -> pa.Array:
    """A float column as the pairs table holds it: NaN (unknown) is null."""
    return pa.array(np.asarray(values, dtype=np.float64), type=pa.float64(), from_pandas=True)


def _string_array(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    ids = pc.cast(ids, pa.string())
    return ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids


def assemble_tables(
    found: Mapping[str, np.ndarray],
    star_id: pa.Array | pa.ChunkedArray,
    radio_ids: pa.Array | pa.ChunkedArray,
    radio: Mapping[str, np.ndarray],
    star_density_counts: tuple[np.ndarray, np.ndarray],
    plan: MatchPlan,
    *,
    offset_pairs: Mapping[str, np.ndarray],
    n_offsets: int,
    k_nearest: int | None,
    density_order: int,
    region_order: int,
    run_id: str,
) -> dict[str, Any]:
    """The result tables from the engine's raw pairs: {'pairs', 'best' (Arrow, PAIRS_SCHEMA), 'offset_stats'
    (pandas, OFFSET_STATS_SCHEMA columns), 'priors'}.

    found: per pair of the real sky, `sky` (= radio row) and PAIR_VALUES; star_id: per pair; offset_pairs: per
    pair of an offset sky, `sky` (= offset * n_radio + radio row) and `separation_arcsec` (engine.split_skies);
    radio_ids: per radio row. radio: per radio row, ra, dec and the positional-error columns
    (ra_error, dec_error, ELLIPSE_COLUMNS where given); their error scale det(C)^(1/4) (NaN: unknown) picks the row's
    prior class. star_density_counts: sorted (pixel at density_order, valid stars in it), over at least every
    pixel next to a matched radio source."""
    n_radio = int(np.asarray(radio["ra"]).size)
    rows = np.asarray(found["sky"], dtype=np.int64)
    radio_error_scale = error_scale(*(radio.get(c) for c in ("ra_error", "dec_error", *ELLIPSE_COLUMNS)))

    # the offset skies: the false-match statistics and the priors (integer rows only)
    off_sky = np.asarray(offset_pairs["sky"], dtype=np.int64)
    off_offset, off_row = off_sky // max(n_radio, 1), off_sky % max(n_radio, 1)
    matched = np.unique(rows)
    priors = priors_from_rows(radio_error_scale, matched, off_offset, off_row, n_offsets)
    regions = region_pixels(radio["ra"], radio["dec"], region_order)
    stats = offset_stats_from_rows(off_offset, off_row, np.asarray(offset_pairs["separation_arcsec"]), regions,
                                   n_offsets, plan.criteria.search_arcsec, region_order, run_id)
    del off_sky, off_offset, off_row, regions

    # the real sky's pairs: rank, density, p_chance, the k-nearest cut, then the association
    sep = np.asarray(found["separation_arcsec"], dtype=np.float64)
    pick, rank = rank_order(rows, sep, star_id)
    rows = rows[pick]
    if k_nearest is not None:
        keep = rank <= k_nearest
        pick, rows, rank = pick[keep], rows[keep], rank[keep]
    nb = neighbourhood(radio["ra"][matched], radio["dec"][matched], density_order)
    density = density_from_counts(nb, *star_density_counts, density_order)[np.searchsorted(matched, rows)]
    del nb
    values = {k: np.asarray(found[k])[pick] for k in PAIR_VALUES}
    radio_id = _string_array(radio_ids.take(pa.array(rows)))
    # The offset density of a true pair is normalised over the region searched (positional_errors.
    # search_fraction F), not the whole plane: LR = f / (F rho), passed as the density F rho.
    searched = np.asarray(found["search_fraction"], dtype=np.float64)[pick] if "search_fraction" in found else 1.0
    lr, prob = association_arrays(
        _group_codes(radio_id),
        values["separation_sigma"],
        values["combined_error_arcsec"],
        density * searched,
        priors.for_scales(radio_error_scale[rows]),
    )
    columns = {
        "run_id": pa.repeat(pa.scalar(run_id, pa.string()), pick.size),
        "radio_id": radio_id,
        "star_id": _string_array(star_id.take(pa.array(pick))),
        "rank": pa.array(rank, pa.int32()),
        "star_density_deg2": _floats(density),
        "p_chance": _floats(p_chance(values["separation_arcsec"], density)),
        "pm_applied": pa.array(np.asarray(values.pop("pm_applied"), dtype=bool), pa.bool_()),
        **{k: _floats(v) for k, v in values.items()},
        "likelihood_ratio": _floats(lr),
        "association_probability": _floats(prob),
    }
    pairs = pa.Table.from_arrays([columns[f.name] for f in PAIRS_SCHEMA], schema=PAIRS_SCHEMA)
    return {
        "pairs": pairs,
        "best": pairs.filter(pc.equal(pairs.column("rank"), 1)),
        "offset_stats": stats,
        "priors": priors,
    }
