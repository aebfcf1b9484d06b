"""A run over part of a grown catalogue carries the rest of the catalogue so far on (issue 22).

An increment (crossmatch.increment) matches only the regions where something is new. Every value of a pair but
one is measured over the pair's own statistics region, so the earlier runs' pairs elsewhere stand as they are;
the one exception is the association prior (crossmatch.priors), measured over all radio sources. A run over a
region measuring it over that region alone would score its detections with another prior than a run over the
whole catalogue. So the run fits the prior over the catalogue so far: its own sources plus those of the
earlier run the marts hold (its basis, which was itself complete) outside the regions it matched, from what
each source brought (association_inputs: kept with every run). It then writes the basis's detections there
again, re-scored with that prior and under its own run id: matching stays incremental, only the EM and the
posterior are redone. Its footprint (run.json `footprint`: where the marts take its detections) is the regions
it matched plus those it carried, so after it the marts hold exactly what one run over the union would give.

A basis without association inputs (a run from before they were kept) cannot be carried on: the run then
scores with the prior of what it matched, says so in the log, and its run.json has no `carried_from`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from radiolake.crossmatch.arrays import string_array
from radiolake.crossmatch.association_inputs import AssociationInputs
from radiolake.crossmatch.increment import Carry, footprint_of
from radiolake.crossmatch.io import read_arrow
from radiolake.results import PAIRS_SCHEMA

log = logging.getLogger(__name__)


@dataclass
class Carried:
    """The basis's rows outside the run's regions, re-scored: `rows`: {"radio_sources", "stars"} to write beside
    the run's own; `footprint`: the run's footprint (regions matched and carried); `record`: for run.json."""

    rows: dict[str, pa.Table]
    footprint: dict[str, Any]
    record: dict[str, Any]


def carry_forward(tables: dict[str, Any], carry: Carry, n_offsets: int, run_id: str) -> Carried | None:
    """Re-score `tables` (assemble.assemble_tables' own: pairs, best, offset_stats, priors, association) with
    the prior of the catalogue so far and add the basis's detections outside `carry.regions` (updated in
    place); None when the basis kept no association inputs (then nothing changes)."""
    basis = AssociationInputs.read(carry.prefix)
    if basis is None:
        log.warning("run %s: basis run %s kept no association inputs: this run's association prior is "
                    "measured over the regions it matched only", run_id, carry.run_id)
        return None
    own: AssociationInputs = tables["association"]
    kept = basis.select(~np.isin(basis.region, carry.regions))
    every = AssociationInputs.concat(own, kept)
    priors = every.fit_priors(n_offsets)
    probability = every.probabilities(priors)
    ids = string_array(kept.radio_id)
    earlier = read_arrow(f"{carry.prefix}/pairs")
    earlier = _with_run(earlier.filter(pc.is_in(earlier.column("radio_id"), value_set=ids)), run_id)
    n_own = tables["pairs"].num_rows
    pairs = pa.concat_tables([tables["pairs"], earlier.select(PAIRS_SCHEMA.names).cast(PAIRS_SCHEMA)])
    at = every.candidate_index(pairs.column("radio_id"), pairs.column("rank").to_numpy())
    column = pa.array(probability[at], pa.float64(), from_pandas=True)
    pairs = pairs.set_column(pairs.schema.get_field_index("association_probability"),
                             pairs.schema.field("association_probability"), column)
    stats = read_arrow(f"{carry.prefix}/offset_stats").to_pandas()
    stats = stats[~np.isin(stats["region_pixel"].to_numpy(), carry.regions)].assign(run_id=run_id)
    tables.update(pairs=pairs, best=pairs.filter(pc.equal(pairs.column("rank"), 1)), priors=priors,
                  association=every,
                  offset_stats=pd.concat([tables["offset_stats"], stats[tables["offset_stats"].columns]],
                                         ignore_index=True))
    radio = read_arrow(f"{carry.prefix}/radio_sources")
    stars = read_arrow(f"{carry.prefix}/stars")
    carried_pairs = pairs.slice(n_own)
    rows = {"radio_sources": radio.filter(pc.is_in(radio.column("source_id"), value_set=ids)),
            "stars": stars.filter(pc.is_in(stars.column("source_id"),
                                           value_set=carried_pairs.column("star_id").unique()))}
    regions = np.union1d(carry.regions, np.unique(kept.region))
    log.info("run %s: carried %d radio sources and %d pairs of run %s on, re-scored with the prior of the "
             "catalogue so far (%d sources)", run_id, kept.n_sources, carried_pairs.num_rows, carry.run_id,
             every.n_sources)
    return Carried(rows, {**footprint_of(regions, carry.order), "from": f"regions matched and carried from run "
                                                                         f"{carry.run_id}"},
                   {"carried_from": carry.run_id, "carried_sources": kept.n_sources,
                    "carried_pairs": carried_pairs.num_rows})


def _with_run(table: pa.Table, run_id: str) -> pa.Table:
    i = table.schema.get_field_index("run_id")
    return table.set_column(i, table.schema.field(i), pa.repeat(pa.scalar(run_id, pa.string()), table.num_rows))
