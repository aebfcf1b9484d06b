"""The run folder: the result tables, the matched rows of both catalogues and the quarantine, per
radiolake/results.py (run.json, the marker of a whole run, is written last by the driver).

Tables are written by a few threads (pyarrow encodes and compresses without the GIL) while the next table is
prepared: the driver's serial tail otherwise leaves a core idle. A failed write fails the run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from radiolake.crossmatch.inputs import RadioInput
from radiolake.crossmatch.io import read_rows, write_arrow
from radiolake.crossmatch.reduce import unify
from radiolake.crossmatch.star_task import ChunkResult
from radiolake.results import OFFSET_STATS_SCHEMA


def first_occurrences(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row positions of each distinct id's first row, in row order (a star read twice is written once)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    codes = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    return np.sort(np.unique(codes, return_index=True)[1])


def _with_survey(table: pa.Table, name: str) -> pa.Table:
    return table.append_column("survey", pa.repeat(pa.scalar(name, pa.string()), table.num_rows))


def matched_radio_rows(radio: RadioInput, matched: np.ndarray) -> pa.Table:
    """Every column of the radio rows with a pair (`matched`: sorted valid rows), read again from the
    catalogue but for the ids, which the driver holds already (strings: the dearest column to decode)."""
    table = read_rows(radio.location, radio.catalogue_rows(matched), skip=("source_id",))
    ids = radio.ids.take(pa.array(matched))
    order = read_rows(radio.location, np.zeros(0, np.int64)).schema  # the file's columns, no rows read
    if order.field("source_id").type != ids.type:
        return read_rows(radio.location, radio.catalogue_rows(matched))
    return table.add_column(order.get_field_index("source_id"), order.field("source_id"), ids)


def matched_star_rows(results: list[ChunkResult], schema: pa.Schema, pairs: pa.Table) -> pa.Table:
    """Every column of the stars with a pair, once each (from the tasks' full rows)."""
    rows = unify([r.full for r in results])
    if rows is None:
        rows = pa.table({name: pa.array([], schema.field(name).type) for name in schema.names})
    rows = rows.filter(pc.is_in(rows.column("source_id"), value_set=pairs.column("star_id").unique()))
    return rows.take(pa.array(first_occurrences(rows.column("source_id"))))


# size: the run's tables, where its rows come from, and the rows it carries on
def write_tables(out: str, tables: dict, radio: RadioInput, radio_rows: np.ndarray, results: list[ChunkResult],
                 schema: pa.Schema, names: tuple[str, str], carried: dict[str, pa.Table] | None = None) -> None:
    """pairs, best, offset_stats, radio_sources, stars, quarantine/{radio,stars} (tables["quarantine"]) and
    the association inputs (tables["association"], when kept) under `out`; `radio_rows`: the valid radio rows
    with a pair (sorted); `names`: the (radio, star) catalogue names written in each row's `survey`;
    `carried`: an earlier run's radio_sources and stars rows this run carries on (crossmatch.carry)."""
    writer = ThreadPoolExecutor(3)
    written: list[Future] = []

    def write(table: pa.Table, location: str) -> None:
        written.append(writer.submit(write_arrow, table, location))

    pairs = tables["pairs"]
    write(pairs, f"{out}/pairs")
    write(tables["best"], f"{out}/best")
    write(pa.Table.from_pandas(tables["offset_stats"], schema=OFFSET_STATS_SCHEMA, preserve_index=False),
          f"{out}/offset_stats")
    radio_sources = _with_survey(matched_radio_rows(radio, radio_rows), names[0])
    stars = _with_survey(matched_star_rows(results, schema, pairs), names[1])
    if carried is not None:
        radio_sources = pa.concat_tables([radio_sources, carried["radio_sources"]], promote_options="permissive")
        more = carried["stars"]
        stars = pa.concat_tables([stars, more.filter(pc.invert(pc.is_in(more.column("source_id"),
                                                                          value_set=stars.column("source_id").combine_chunks())))],
                                 promote_options="permissive")
    write(radio_sources, f"{out}/radio_sources")
    write(stars, f"{out}/stars")
    if tables.get("association") is not None:
        for name, table in tables["association"].tables().items():
            write(table, f"{out}/association/{name}")
    for what, bad in tables["quarantine"].items():
        if bad is not None and bad.num_rows:
            write(bad, f"{out}/quarantine/{what}")
    try:
        for w in written:
            w.result()  # a failed write fails the run (run.json is never written)
    finally:
        writer.shutdown()
