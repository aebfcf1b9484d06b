"""The Spark plan of the cross-match: Spark schedules star chunks; star rows never leave their task.

Plan:
1. the driver reads the columns of the radio catalogue the match needs with pyarrow (the others are read again
   at the end, for the matched rows only), quarantines invalid rows, and reads only the
   Parquet footers of the star files near the radio footprint: their statistics give the plan (epochs,
   largest proper motion and errors) without a pass over the star rows;
2. the driver replicates the real radio rows to the join pixels their cone reaches and plans star chunks
   (runs of row groups whose `healpix` range meets the footprint plus margin); each chunk is named the radio
   rows it needs: those replicated into its pixel range or, with offset skies, those within the offset of its
   ra/dec bounds (footer statistics). The radio rows travel once, as a broadcast;
3. Spark tasks (two per core, each a few chunks) read their star rows with pyarrow (needed columns only),
   quarantine invalid rows, count stars per density pixel, compute the offset skies of their radio rows,
   match the slow stars by declination zones (`engine.match_star_chunk`, `zones.py`) and return pairs with
   integer keys, the few fast movers, and full rows only for matched stars (string ids only for output rows);
4. the driver matches the fast movers with their own star-side search, then `assemble.assemble_tables` ranks,
   adds density and p_chance, builds best, k-nearest and offset statistics, and runs the association step
   (priors per radio-error class from the offset skies, likelihood ratio and posterior per final pair) on
   integer radio rows, the string ids staying Arrow arrays gathered only for output rows; tables are written
   with pyarrow per radiolake/results.py, run.json last. What is no longer needed is dropped as it goes, so
   100 M stars x 10 M radio sources fit in 6 GB for all processes with Spark's default 1g driver heap.
No shuffle, no Arrow<->JVM<->Python conversion of star rows: Spark is the scheduler (local or a cluster).
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import SparkContext
from pyspark.sql import SparkSession

from radiolake.crossmatch.assemble import assemble_tables
from radiolake.crossmatch.core import concat_results
from radiolake.crossmatch.density import DEFAULT_DENSITY_ORDER
from radiolake.crossmatch.engine import RadioSkies, match_fast_stars, radio_columns, split_skies
from radiolake.crossmatch.io import (
    catalogue_files,
    read_arrow,
    read_rows,
    remove_file,
    resolve_location,
    write_arrow,
    write_text,
)
from radiolake.crossmatch.offsets import DEFAULT_OFFSET_ARCMIN, DEFAULT_REGION_ORDER
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, SPAN_COLUMN
from radiolake.crossmatch.partitioning import (
    MIN_JOIN_ORDER,
    fine_ranges,
    home_pixels,
    pixel_size_arcsec,
)
from radiolake.crossmatch.plan import CatalogueStats, plan_match
from radiolake.crossmatch.star_chunks import (
    CHUNK_ROWS,
    filesystem,
    float_arrays,
    metadata_stats,
    overlaps,
    plan_chunks,
    row_groups,
)
from radiolake.crossmatch.star_task import STAR_READ, TaskContext, run_star_group
from radiolake.crossmatch.validity import invalid_codes, quarantined
from radiolake.results import OFFSET_STATS_SCHEMA

#: Rows one Spark task takes at most (its chunks run one after the other, so memory stays one chunk's).
TASK_ROWS = 5_000_000
#: Radio columns the driver holds (the match's); the rest is read again only for matched rows.
RADIO_READ = ("source_id", "ra", "dec", "epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS, SPAN_COLUMN)
#: More healpix ranges than this are coarsened (the row-group filter stays cheap).
MAX_RANGES = 500
log = logging.getLogger(__name__)


class CatalogueError(ValueError):
    """A catalogue lacks a column the cross-match needs."""


def _require(names: list[str], columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in names]
    if missing:
        raise CatalogueError(
            f"{what} catalogue lacks column(s) {missing}; expected the canonical schema (radiolake/schema.py)"
        )


class StepTimer:
    """Wall time per step of the plan, logged and kept in run.json: the job's own coarse profile."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._t, 3)
        log.info("crossmatch step %s: %.1f s", name, now - self._t)
        self._t = now


def with_neighbours(pixels: np.ndarray, order: int) -> np.ndarray:
    from cdshealpix import nested

    pix = np.unique(np.asarray(pixels, dtype=np.int64))
    if pix.size == 0:
        return pix
    nb = nested.neighbours(pix.astype(np.uint64), order, num_threads=1).astype(np.int64).ravel()
    return np.unique(np.concatenate([pix, nb[nb >= 0]]))


def coverage(replica_keys: np.ndarray, join_order: int, density_order: int, margin_arcsec: float = 0.0):
    """Pixels (order, sorted array) whose stars the job needs: matching (slow and fast stars) and density.

    The pixels of the replicas plus their neighbours, at an order coarse enough that one neighbour ring is
    wider than twice `margin_arcsec` (the fast movers' reach) and than a density neighbourhood."""
    order = min(join_order, density_order)
    while order > MIN_JOIN_ORDER and pixel_size_arcsec(order) < 2 * margin_arcsec:
        order -= 1
    pix = with_neighbours(np.asarray(replica_keys, dtype=np.int64) >> (2 * (join_order - order)), order)
    while order > 0 and len(fine_ranges(pix, order)) > MAX_RANGES:
        order -= 1
        pix = np.unique(pix >> 2)
    return order, pix


def _ranges(order: int, pixels: np.ndarray) -> np.ndarray:
    return np.array(fine_ranges(pixels, order), dtype=np.int64).reshape(-1, 2)


def _footers(files: list[str], s3: bool) -> tuple[pa.Schema | None, list]:
    if not files:
        return None, []
    fs = filesystem(s3)
    with ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(lambda f: row_groups(fs, f), files))
    return parts[0][0], [g for _, gs in parts for g in gs]


def _stats(radio: dict[str, np.ndarray], meta: dict[str, tuple[float, float]], n_stars: int) -> CatalogueStats:
    def hi(name: str) -> float:
        lo_hi = meta.get(name)
        return max(abs(lo_hi[0]), abs(lo_hi[1])) if lo_hi else 0.0

    def nanmax(a: np.ndarray) -> float:
        a = a[np.isfinite(a)]
        return float(a.max()) if a.size else 0.0

    epoch = meta.get("epoch", (0.0, 0.0))
    n_radio = radio["ra"].size
    return CatalogueStats(
        n_radio=n_radio,
        n_stars=n_stars,
        radio_epoch_min=float(radio["epoch"].min()) if n_radio else 0.0,
        radio_epoch_max=float(radio["epoch"].max()) if n_radio else 0.0,
        star_epoch_min=epoch[0],
        star_epoch_max=epoch[1],
        star_pm_max=math.hypot(hi("pmra"), hi("pmdec")),  # a bound from min/max: exact enough for a reach
        radio_err_max=max(nanmax(radio[c]) for c in ("ra_error", "dec_error", "pos_err_major") if c in radio),
        star_err_max=max(hi("ra_error"), hi("dec_error")),
        star_pm_err_max=max(hi("pmra_error"), hi("pmdec_error")),
        radio_span_max=nanmax(radio[SPAN_COLUMN]) if SPAN_COLUMN in radio else 0.0,
        star_parallax_max=max(meta.get("parallax", (0.0, 0.0))[1], 0.0),
    )


def task_groups(items: list, rows: list[int], parallelism: int, task_rows: int = TASK_ROWS) -> list[list]:
    """Items grouped into Spark tasks of about equal rows (largest first, each to the lightest task): two
    tasks per core, so one slow task leaves no core idle for long, more when a task would exceed
    `task_rows`. Each task costs ~0.1 s of scheduling and Python-worker round trip, which one task per chunk
    paid two dozen times on 10 M stars."""
    if not items:
        return []
    n = min(len(items), max(2 * max(parallelism, 1), math.ceil(sum(rows) / task_rows)))
    groups: list[list] = [[] for _ in range(n)]
    load = [0] * n
    for k in sorted(range(len(items)), key=lambda k: -rows[k]):
        g = load.index(min(load))
        groups[g].append(items[k])
        load[g] += rows[k]
    return [g for g in groups if g]


def first_occurrences(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Row positions of each distinct id's first row, in row order (a star read twice is written once)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    codes = pc.dictionary_encode(ids).indices.to_numpy(zero_copy_only=False)
    return np.sort(np.unique(codes, return_index=True)[1])


def _unify(tables: list[pa.Table]) -> pa.Table | None:
    tables = [t for t in tables if t is not None]
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def run_crossmatch(
    spark: SparkSession | SparkContext | Callable[[], SparkSession | SparkContext],
    radio_location: str,
    stars_location: str,
    out: str,
    *,
    radius_arcsec: float | None = None,
    n_sigma: float | None = None,
    n_offsets: int = 0,
    offset_arcmin: float = DEFAULT_OFFSET_ARCMIN,
    k_nearest: int | None = None,
    density_order: int = DEFAULT_DENSITY_ORDER,
    region_order: int = DEFAULT_REGION_ORDER,
    join_order: int | None = None,
    run_id: str | None = None,
    radio_name: str | None = None,
    star_name: str | None = None,
    catalog_versions: dict | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Cross-match two catalogues and write the run folder `out`; returns the run.json content.

    `catalog_versions` (the inputs' pinned versions, from crossmatch.versions) is recorded as is in run.json.
    `spark` may be a callable returning the session (e.g. a Future's `result`): the driver's own work (radio,
    footers, plan, radio skies) then overlaps the JVM start-up, and the session is awaited only for the tasks."""
    if n_offsets < 0:
        raise ValueError(f"n_offsets must be >= 0, got {n_offsets}")
    if k_nearest is not None and k_nearest < 1:
        raise ValueError(f"k_nearest must be >= 1, got {k_nearest}")
    run_id = run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    out = out.rstrip("/")
    radio_name = radio_name or resolve_location(radio_location).rstrip("/").rsplit("/", 1)[-1]
    star_name = star_name or resolve_location(stars_location).rstrip("/").rsplit("/", 1)[-1]

    remove_file(f"{out}/run.json")  # a rerun into the same folder is not a whole run until it finishes
    timer = StepTimer()

    # 1. radio on the driver; star footers near its footprint; the plan from both.
    # Only the columns the match needs are held; the other columns are read again for the output rows only.
    radio_tbl = read_arrow(radio_location, columns=list(RADIO_READ))
    _require(radio_tbl.column_names, ["source_id", "ra", "dec", "epoch"], "radio")
    codes = invalid_codes(radio_tbl, "radio")
    valid_rows = np.flatnonzero(codes == 0) if codes.any() else None  # catalogue row of each valid radio row
    radio_bad = quarantined(read_rows(radio_location, np.flatnonzero(codes)), codes[codes != 0]) \
        if codes.any() else None
    radio = radio_columns(float_arrays(radio_tbl, RADIO_READ[1:]))
    radio_ids = radio_tbl.column("source_id").combine_chunks()
    del radio_tbl
    if valid_rows is not None:
        radio = {k: v[valid_rows] for k, v in radio.items()}
        radio_ids = radio_ids.take(pa.array(valid_rows))
    foot = with_neighbours(home_pixels(radio["ra"], radio["dec"], MIN_JOIN_ORDER), MIN_JOIN_ORDER)
    all_files, near_files, s3 = catalogue_files(stars_location, coverage=(MIN_JOIN_ORDER, foot))
    schema, groups = _footers(near_files, s3)
    if schema is None:
        schema, _ = _footers(all_files[:1], s3)
    _require(schema.names, ["source_id", "ra", "dec", "epoch", "healpix"], "star")
    groups = [g for g in groups if overlaps(g, _ranges(MIN_JOIN_ORDER, foot))]
    meta = metadata_stats(groups, filesystem(s3))
    stats = _stats(radio, meta, sum(g.n_rows for g in groups))
    plan = plan_match(stats, radius_arcsec, n_sigma, join_order)
    margin = plan.criteria.search_arcsec + plan.max_displacement_arcsec
    if margin > pixel_size_arcsec(MIN_JOIN_ORDER) / 2:
        raise ValueError(f"proper motions move stars by up to {margin:.0f} arcsec: too far for this engine")
    timer.lap("plan")

    # 2. radio replicas; star chunks near them, each with the radio rows (all skies) that reach it.
    skies = RadioSkies.build(radio, plan.reach_arcsec, plan.join_order, n_offsets, offset_arcmin)
    cov_order, cov_pix = coverage(skies.keys(), plan.join_order, density_order, margin + skies.offset_arcsec)
    cov = _ranges(cov_order, cov_pix)
    kept = [g for g in groups if overlaps(g, cov)]
    chunks = plan_chunks(kept, s3, set(STAR_READ), chunk_rows)
    payloads = [(c, skies.rows_for_chunk(c.hp_min, c.hp_max, c.boxes)) for c in chunks]
    timer.lap("radio_skies")

    # 3. Spark tasks of star chunks; the radio rows travel once (a broadcast), each chunk names its rows.
    ctx = TaskContext(plan.criteria, skies.epoch_range, plan.slow_limit_arcsec, density_order, skies.n_radio)
    session = spark if isinstance(spark, SparkSession | SparkContext) else spark()
    timer.lap("await_spark")
    results = []
    if payloads:
        sc = session.sparkContext if isinstance(session, SparkSession) else session
        tasks = task_groups(payloads, [c.n_rows for c in chunks], sc.defaultParallelism)
        radio_rows = sc.broadcast(skies.radio)
        try:
            results = [r for rs in sc.parallelize(tasks, len(tasks)).map(partial(run_star_group, ctx, radio_rows))
                       .collect() for r in rs]
        finally:
            radio_rows.unpersist()
        del tasks
    del payloads
    timer.lap("match")

    # 4. fast movers, then the tables: string ids stay in Arrow, gathered only for output rows.
    fast_full = _unify([r["full"].take(pa.array(np.searchsorted(r["full_idx"], r["fast"]))) for r in results
                        if r["fast"].size])
    parts = [r.pop("found") for r in results]
    offs = [r.pop("off") for r in results]
    star_ids = [r.pop("star_id") for r in results]
    if fast_full is not None:
        fres, foff = split_skies(match_fast_stars(float_arrays(fast_full), skies, plan.criteria), skies.n_radio)
        star_ids.append(fast_full.column("source_id").take(pa.array(fres.pop("star_idx"))))
        parts.append(fres)
        offs.append(foff)
    del skies, fast_full  # the replicas and the broadcast copy of the radio columns
    res = concat_results(parts)
    off = {k: np.concatenate([o[k] for o in offs]) if offs else np.zeros(0)
           for k in ("sky", "separation_arcsec", "star_class")}
    n_candidates = int(res["sky"].size + off["sky"].size)
    del parts, offs
    ids = pa.chunked_array([c for a in star_ids for c in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])],
                           type=pa.string())
    del star_ids
    pix = np.concatenate([r["counts"][0] for r in results]) if results else np.zeros(0, np.int64)
    cnt = np.concatenate([r["counts"][1] for r in results]) if results else np.zeros(0, np.int64)
    upix, inv = np.unique(pix, return_inverse=True)
    counts = (upix, np.bincount(inv.ravel(), weights=cnt, minlength=upix.size).astype(np.int64))
    tables = assemble_tables(
        res,
        ids,
        radio_ids,
        radio,
        counts,
        plan,
        offset_pairs=off,
        n_offsets=n_offsets,
        k_nearest=k_nearest,
        density_order=density_order,
        region_order=region_order,
        run_id=run_id,
    )
    del res, off, ids, radio
    pairs = tables["pairs"]
    timer.lap("assemble")

    # Tables are written by a few threads (pyarrow encodes and compresses without the GIL) while the next
    # table is prepared: the driver's serial tail otherwise leaves a core idle.
    writer = ThreadPoolExecutor(3)
    written = []

    def write(table: pa.Table, location: str) -> None:
        written.append(writer.submit(write_arrow, table, location))

    write(pairs, f"{out}/pairs")
    write(tables["best"], f"{out}/best")
    write(
        pa.Table.from_pandas(tables["offset_stats"], schema=OFFSET_STATS_SCHEMA, preserve_index=False),
        f"{out}/offset_stats",
    )
    matched = np.flatnonzero(pc.is_in(radio_ids, value_set=pairs.column("radio_id").unique()).to_numpy(
        zero_copy_only=False))
    radio_out = read_rows(radio_location, matched if valid_rows is None else valid_rows[matched])
    write(radio_out.append_column("survey", pa.repeat(pa.scalar(radio_name, pa.string()), radio_out.num_rows)),
          f"{out}/radio_sources")
    del radio_out, matched
    star_rows = _unify([r.pop("full") for r in results])
    if star_rows is None:
        star_rows = pa.table({name: pa.array([], schema.field(name).type) for name in schema.names})
    star_rows = star_rows.filter(pc.is_in(star_rows.column("source_id"), value_set=pairs.column("star_id").unique()))
    star_rows = star_rows.take(pa.array(first_occurrences(star_rows.column("source_id"))))
    write(star_rows.append_column("survey", pa.repeat(pa.scalar(star_name, pa.string()), star_rows.num_rows)),
          f"{out}/stars")
    del star_rows
    n_radio_bad = radio_bad.num_rows if radio_bad is not None else 0
    if n_radio_bad:
        write(radio_bad, f"{out}/quarantine/radio")
    stars_bad = _unify([r["bad"] for r in results])
    n_stars_bad = stars_bad.num_rows if stars_bad is not None else 0
    if n_stars_bad:
        write(stars_bad, f"{out}/quarantine/stars")
    try:
        for w in written:
            w.result()  # a failed write fails the run (run.json is never written)
    finally:
        writer.shutdown()
    timer.lap("write")

    stats_frame = tables["offset_stats"]
    n_valid = sum(r["n_valid"] for r in results)
    stats = CatalogueStats(**{**asdict(stats), "n_stars": n_valid})
    summary = {
        "run_id": run_id,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "radio_catalog": radio_name,
        "star_catalog": star_name,
        "radius_arcsec": radius_arcsec,
        "n_sigma": n_sigma,
        "n_offsets": n_offsets,
        "offset_arcmin": offset_arcmin,
        "n_radio": stats.n_radio,
        "n_stars": n_valid,
        "n_pairs": pairs.num_rows,
        "n_best": tables["best"].num_rows,
        "expected_false_matches": float(
            stats_frame.loc[
                stats_frame["radius_arcsec"] == stats_frame["radius_arcsec"].max(), "expected_false_matches"
            ].sum()
        )
        if len(stats_frame)
        else 0.0,
        "association_prior": tables["priors"].as_dict(),
        "k_nearest": k_nearest,
        "join_order": plan.join_order,
        "density_order": density_order,
        "region_order": region_order,
        "search_arcsec": plan.criteria.search_arcsec,
        "reach_arcsec": plan.reach_arcsec,
        "slow_limit_arcsec": plan.slow_limit_arcsec,
        "n_fast_stars": int(sum(r["fast"].size for r in results)),
        "n_radio_quarantined": n_radio_bad,
        "n_stars_quarantined": n_stars_bad,
        "n_candidates_incl_offsets": n_candidates,
        "n_star_chunks": len(chunks),
        "star_bytes_read": int(sum(r["bytes"] for r in results)),
        "star_bytes_near_footprint": int(sum(sum(g.col_bytes.values()) for g in groups)),
        "stats": asdict(stats),
        "timings_s": timer.times,
        "catalog_versions": catalog_versions,
        "task_seconds": {
            "sum": round(sum(r["seconds"] for r in results), 3),
            "max": round(max((r["seconds"] for r in results), default=0.0), 3),
        },
    }
    write_text(json.dumps(summary, indent=2), f"{out}/run.json")  # last: marks the run as whole
    return summary
