"""The driver's reduction of the star tasks' results: fast movers, then the result tables.

The tasks return pairs with integer keys (star_task.ChunkResult); here the fast movers get their own search
(`MatchConfig.fast_kernel` over every sky row), the real sky is split from the offset skies, the star
density counts of every chunk are summed, and `assemble.assemble_tables` ranks, adds density and p_chance,
builds best, k-nearest and offset statistics and runs the association step. String ids stay Arrow arrays,
gathered only for output rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from radiolake.crossmatch.assemble import SkyPairs, assemble_tables
from radiolake.crossmatch.engine import RadioSkies, concat_results, match_fast_stars, split_skies
from radiolake.crossmatch.inputs import RadioInput
from radiolake.crossmatch.match_config import MatchConfig
from radiolake.crossmatch.plan import MatchPlan
from radiolake.crossmatch.star_chunks import float_arrays
from radiolake.crossmatch.star_task import ChunkResult

#: Columns of an offset-sky pair (engine.split_skies).
OFFSET_COLUMNS = ("sky", "separation_arcsec", "star_class")


@dataclass
class Reduced:
    """The run's tables (assemble.assemble_tables: pairs, best, offset_stats, priors; and quarantine: the
    invalid rows of each catalogue with their reason, {"radio", "stars"} -> table or None) and how many
    candidate pairs every sky gave; radio_rows: the valid radio rows with a pair, sorted (a k-nearest cut keeps
    every source's nearest star, so these are the pairs table's radio rows)."""

    tables: dict[str, Any]
    n_candidates: int
    radio_rows: np.ndarray


def unify(tables: list[pa.Table | None]) -> pa.Table | None:
    """The tables as one (columns promoted where files differ); None when there are none."""
    tables = [t for t in tables if t is not None]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def density_counts(results: list[ChunkResult]) -> tuple[np.ndarray, np.ndarray]:
    """Every chunk's star counts per (density pixel, population class), summed: (sorted keys, counts)."""
    pix = np.concatenate([r.counts[0] for r in results]) if results else np.zeros(0, np.int64)
    cnt = np.concatenate([r.counts[1] for r in results]) if results else np.zeros(0, np.int64)
    upix, inv = np.unique(pix, return_inverse=True)
    return upix, np.bincount(inv.ravel(), weights=cnt, minlength=upix.size).astype(np.int64)


def match_fast_movers(results: list[ChunkResult], skies: RadioSkies, plan: MatchPlan, config: MatchConfig
                      ) -> ChunkResult | None:
    """The fast movers of every chunk matched on the driver (`config.fast_kernel` over every sky row), as one
    more result of pairs (None: no fast movers). After it the radio skies (replicas) are no longer needed."""
    fast_full = unify([r.fast_rows() for r in results])
    if fast_full is None:
        return None
    found = match_fast_stars(float_arrays(fast_full), skies, plan.criteria, config.fast_kernel)
    fres, foff = split_skies(found, skies.n_radio)
    star_id = fast_full.column("source_id").take(pa.array(fres.pop("star_idx")))
    return ChunkResult(found=fres, star_id=star_id, off=foff, full=None, full_idx=np.zeros(0, np.int64),
                       fast=np.zeros(0, np.int64), counts=(np.zeros(0, np.int64), np.zeros(0, np.int64)),
                       bad=None, n_valid=0, bytes=0, seconds=0.0)


def reduce_results(results: list[ChunkResult], fast: ChunkResult | None, plan: MatchPlan, radio: RadioInput,
                   config: MatchConfig, run_id: str) -> Reduced:
    """The tables from the tasks' results and the fast movers' (match_fast_movers); the tasks' results keep
    their full rows and quarantine for the write."""
    every = [*results, fast] if fast is not None else results
    parts, offs, star_ids = (list(x) for x in zip(*(r.take_pairs() for r in every), strict=True)) \
        if every else ([], [], [])
    res = concat_results(parts)
    off = {k: np.concatenate([o[k] for o in offs]) if offs else np.zeros(0) for k in OFFSET_COLUMNS}
    n_candidates = int(res["sky"].size + off["sky"].size)
    del parts, offs
    ids = pa.chunked_array([c for a in star_ids for c in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])],
                           type=pa.string())
    del star_ids
    sky = SkyPairs(res, ids, off)
    tables = assemble_tables(sky, radio.ids, radio.columns, density_counts(results), plan, config, run_id)
    tables["quarantine"] = {"radio": radio.bad, "stars": unify([r.bad for r in results])}
    return Reduced(tables, n_candidates, sky.matched_rows)
