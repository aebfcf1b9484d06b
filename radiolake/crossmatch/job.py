"""The Spark plan of the cross-match: read, replicate, co-partition, match, rank, write.

Plan (all Python work happens in vectorised Arrow batches, never per row):
1. one aggregate per catalogue gives the statistics `plan_match` needs (epochs, largest proper motion and
   errors), hence the search bound, the reach and the HEALPix join order;
2. `mapInArrow` replicates radio rows (real sky + offset skies) to every join pixel their cone reaches;
3. stars keep their home pixel (a shift of the canonical `healpix` column); only stars in pixels near the
   radio footprint are read (HATS files are skipped by name, row groups by a pushed-down healpix range);
4. radio replicas and stars are unioned, hash-partitioned by pixel and sorted by pixel within partitions,
   and `mapInArrow` runs `match_chunk` on runs of whole pixels, so memory is bounded by the partition's
   largest pixel rather than by the catalogue size;
5. rank (window per radio source), local density (star counts per pixel around each matched source),
   p_chance, best match, k-nearest, offset-sky statistics; results written per radiolake/results.py with
   run.json last.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from radiolake.crossmatch.associate import ASSOCIATION_COLUMNS, associate_spark, spark_priors
from radiolake.crossmatch.core import (
    CatalogueStats,
    MatchPlan,
    plan_match,
    radio_replica_arrays,
)
from radiolake.crossmatch.density import DEFAULT_DENSITY_ORDER, neighbourhood
from radiolake.crossmatch.io import read_catalog, remove_file, resolve_location, write_table, write_text
from radiolake.crossmatch.offsets import (
    DEFAULT_OFFSET_ARCMIN,
    DEFAULT_REGION_ORDER,
    offset_stats_row,
    radius_grid,
)
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, MatchCriteria, match_chunk
from radiolake.crossmatch.partitioning import MIN_JOIN_ORDER, fine_ranges, home_pixels, pixel_area_deg2
from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from radiolake.schema import HEALPIX_ORDER

#: Rows a partition gathers before matching a run of whole pixels (bounds memory per task).
CHUNK_ROWS = 300_000
#: Target rows per shuffle partition.
ROWS_PER_PARTITION = 1_000_000
#: More pushed-down healpix ranges than this are coarsened (Parquet filters get slow past a few thousand).
MAX_RANGES = 500

MATCH_INPUT = pa.schema(
    [
        ("key", pa.int64()),
        ("side", pa.int8()),
        ("offset", pa.int32()),
        ("id", pa.string()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("epoch", pa.float64()),
        ("ra_error", pa.float64()),
        ("dec_error", pa.float64()),
        ("pmra", pa.float64()),
        ("pmdec", pa.float64()),
        ("pmra_error", pa.float64()),
        ("pmdec_error", pa.float64()),
        ("pos_err_major", pa.float64()),
        ("pos_err_minor", pa.float64()),
        ("pos_err_pa", pa.float64()),
        ("region", pa.int64()),
    ]
)
FOUND = pa.schema(
    [
        ("offset", pa.int32()),
        ("radio_id", pa.string()),
        ("star_id", pa.string()),
        ("separation_arcsec", pa.float64()),
        ("separation_sigma", pa.float64()),
        ("combined_error_arcsec", pa.float64()),
        ("dt_years", pa.float64()),
        ("pm_applied", pa.bool_()),
        ("star_ra_at_epoch", pa.float64()),
        ("star_dec_at_epoch", pa.float64()),
        ("region", pa.int64()),
    ]
)
RADIO_SIDE, STAR_SIDE = 0, 1
log = logging.getLogger(__name__)


class CatalogueError(ValueError):
    """A catalogue lacks a column the cross-match needs."""


def _spark_schema(schema: pa.Schema) -> T.StructType:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _require(df: DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CatalogueError(
            f"{what} catalogue lacks column(s) {missing}; expected the canonical schema (radiolake/schema.py)"
        )


def _double(df: DataFrame, name: str):
    return F.col(name).cast("double") if name in df.columns else F.lit(None).cast("double")


def invalid_reason(df: DataFrame, what: str):
    """Why a row cannot be matched (null when it can): positions and epochs must be finite and in range."""
    reason = (
        F.when(F.col("source_id").isNull(), F.lit("source_id is null"))
        .when(
            F.col("ra").isNull() | F.isnan("ra") | (F.col("ra") < 0) | (F.col("ra") >= 360),
            F.lit("ra missing or outside [0, 360)"),
        )
        .when(
            F.col("dec").isNull() | F.isnan("dec") | (F.abs(F.col("dec")) > 90),
            F.lit("dec missing or outside [-90, 90]"),
        )
        .when(F.col("epoch").isNull() | F.isnan("epoch"), F.lit("epoch missing"))
    )
    if what == "star":
        reason = reason.when(F.col("healpix").isNull(), F.lit("healpix missing"))
    return reason


def split_valid(df: DataFrame, what: str) -> tuple[DataFrame, DataFrame]:
    """(usable rows, quarantined rows with a `reason`)."""
    tagged = df.withColumn("_reason", invalid_reason(df, what))
    good = tagged.filter(F.col("_reason").isNull()).drop("_reason")
    bad = tagged.filter(F.col("_reason").isNotNull()).withColumnRenamed("_reason", "reason")
    return good, bad


def catalogue_stats(radio: DataFrame, stars_all: DataFrame) -> tuple[CatalogueStats, int]:
    """One aggregate pass per catalogue: the plan's statistics over valid rows, and the stars' invalid count."""
    r = radio.agg(
        F.count(F.lit(1)).alias("n"),
        F.min("epoch").alias("e0"),
        F.max("epoch").alias("e1"),
        F.max(F.greatest(_double(radio, "ra_error"), _double(radio, "dec_error"))).alias("err"),
    ).first()
    ok = invalid_reason(stars_all, "star").isNull()

    def valid(col):
        return F.when(ok, col)

    pm = F.when(
        _double(stars_all, "pmra").isNotNull() & _double(stars_all, "pmdec").isNotNull(),
        F.hypot(_double(stars_all, "pmra"), _double(stars_all, "pmdec")),
    )
    s = stars_all.agg(
        F.count(valid(F.lit(1))).alias("n"),
        F.count(F.when(~ok, F.lit(1))).alias("bad"),
        F.min(valid(F.col("epoch"))).alias("e0"),
        F.max(valid(F.col("epoch"))).alias("e1"),
        F.max(valid(pm)).alias("pm"),
        F.max(valid(F.greatest(_double(stars_all, "ra_error"), _double(stars_all, "dec_error")))).alias("err"),
        F.max(valid(F.greatest(_double(stars_all, "pmra_error"), _double(stars_all, "pmdec_error")))).alias("pmerr"),
    ).first()

    def val(x) -> float:
        return 0.0 if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)

    stats = CatalogueStats(
        n_radio=int(r["n"]),
        n_stars=int(s["n"]),
        radio_epoch_min=val(r["e0"]),
        radio_epoch_max=val(r["e1"]),
        star_epoch_min=val(s["e0"]),
        star_epoch_max=val(s["e1"]),
        star_pm_max=val(s["pm"]),
        radio_err_max=val(r["err"]),
        star_err_max=val(s["err"]),
        star_pm_err_max=val(s["pmerr"]),
    )
    return stats, int(s["bad"])


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


def replicator(
    plan: MatchPlan, n_offsets: int, offset_arcmin: float, region_order: int
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow function: radio rows -> MATCH_INPUT rows (one per reached pixel and offset sky)."""

    def replicate(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            df = batch.to_pandas()
            rep = radio_replica_arrays(df, plan, n_offsets, offset_arcmin, region_order)
            n = rep["row"].size
            nan = np.full(n, np.nan)
            yield pa.RecordBatch.from_pydict(
                {
                    "key": rep["key"],
                    "side": np.full(n, RADIO_SIDE, np.int8),
                    "offset": rep["offset"],
                    "id": df["source_id"].to_numpy(object)[rep["row"]],
                    "ra": rep["ra"],
                    "dec": rep["dec"],
                    "epoch": rep["epoch"],
                    "ra_error": rep["ra_error"],
                    "dec_error": rep["dec_error"],
                    "pmra": nan,
                    "pmdec": nan,
                    "pmra_error": nan,
                    "pmdec_error": nan,
                    **{c: rep[c] for c in ELLIPSE_COLUMNS},
                    "region": rep["region"],
                },
                schema=MATCH_INPUT,
            )

    return replicate


def _arrays(table: pa.Table, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {}
    for name in names:
        col = table.column(name)
        out[name] = col.to_numpy() if col.null_count == 0 else col.to_numpy(zero_copy_only=False)
        if out[name].dtype == object:  # all-null double columns arrive as objects
            out[name] = col.cast(pa.float64()).fill_null(np.nan).to_numpy()
    return out


def match_table(table: pa.Table, criteria: MatchCriteria) -> pa.Table:
    """Run `match_chunk` on a co-partitioned slice (whole pixels of radio replicas and stars)."""
    side = table.column("side").to_numpy()
    radio = table.filter(pa.array(side == RADIO_SIDE))
    stars = table.filter(pa.array(side == STAR_SIDE))
    cols = ("key", "ra", "dec", "epoch", "ra_error", "dec_error", "pmra", "pmdec", "pmra_error", "pmdec_error")
    r = _arrays(radio, cols + ELLIPSE_COLUMNS)
    s = _arrays(stars, cols)
    res = match_chunk(r, s, criteria)
    i, j = res["radio_idx"], res["star_idx"]
    return pa.Table.from_pydict(
        {
            "offset": radio.column("offset").take(i),
            "radio_id": radio.column("id").take(i),
            "star_id": stars.column("id").take(j),
            "separation_arcsec": res["separation_arcsec"],
            "separation_sigma": pa.array(res["separation_sigma"], from_pandas=True),
            "combined_error_arcsec": pa.array(res["combined_error_arcsec"], from_pandas=True),
            "dt_years": res["dt_years"],
            "pm_applied": res["pm_applied"],
            "star_ra_at_epoch": res["star_ra_at_epoch"],
            "star_dec_at_epoch": res["star_dec_at_epoch"],
            "region": radio.column("region").take(i),
        },
        schema=FOUND,
    )


def matcher(
    criteria: MatchCriteria, chunk_rows: int = CHUNK_ROWS
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow function over a partition sorted by key: match runs of complete pixels as they arrive."""

    def match(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        rows = 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            pending.append(batch)
            rows += batch.num_rows
            if rows < chunk_rows:
                continue
            table = pa.Table.from_batches(pending).combine_chunks()
            keys = table.column("key").to_numpy()
            cut = int(np.searchsorted(keys, keys[-1]))  # rows before the last (maybe incomplete) pixel
            if cut > 0:
                yield from match_table(table.slice(0, cut), criteria).to_batches()
                table = table.slice(cut)
            pending = table.to_batches()
            rows = table.num_rows
        if rows:
            yield from match_table(pa.Table.from_batches(pending), criteria).to_batches()

    return match


def density_rows(order: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow: radio (source_id, ra, dec) -> (radio_id, pixel, n_cells) for its 3x3 pixel neighbourhood."""
    schema = pa.schema([("radio_id", pa.string()), ("pixel", pa.int64()), ("n_cells", pa.int32())])

    def rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            ids = batch.column("source_id").to_numpy(zero_copy_only=False)
            nb = neighbourhood(batch.column("ra").to_numpy(), batch.column("dec").to_numpy(), order)
            valid = nb >= 0
            idx = np.nonzero(valid)
            yield pa.RecordBatch.from_pydict(
                {"radio_id": ids[idx[0]], "pixel": nb[idx], "n_cells": valid.sum(axis=1).astype(np.int32)[idx[0]]},
                schema=schema,
            )

    return rows


PIXEL_ROWS = T.StructType([T.StructField("pixel", T.LongType())])


def pixel_rows(order: int) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow: rows with ra/dec -> their HEALPix pixel at `order`."""

    def rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for b in batches:
            pix = home_pixels(b.column("ra").to_numpy(), b.column("dec").to_numpy(), order)
            yield pa.RecordBatch.from_pydict({"pixel": pix}, schema=pa.schema([("pixel", pa.int64())]))

    return rows


def with_neighbours(pixels: np.ndarray, order: int) -> np.ndarray:
    from cdshealpix import nested

    pix = np.unique(np.asarray(pixels, dtype=np.int64))
    if pix.size == 0:
        return pix
    nb = nested.neighbours(pix.astype(np.uint64), order, num_threads=1).astype(np.int64).ravel()
    return np.unique(np.concatenate([pix, nb[nb >= 0]]))


def coverage(replica_keys: np.ndarray, join_order: int, density_order: int) -> tuple[int, np.ndarray]:
    """Pixels (order, sorted array) whose stars the job needs: matching plus the density neighbourhoods."""
    order = min(join_order, density_order)
    pix = with_neighbours(np.asarray(replica_keys, dtype=np.int64) >> (2 * (join_order - order)), order)
    while order > 0 and len(fine_ranges(pix, order)) > MAX_RANGES:
        order -= 1
        pix = np.unique(pix >> 2)
    return order, pix


def healpix_filter(order: int, pixels: np.ndarray):
    """A Spark predicate on the fine `healpix` column that Parquet can push down as min/max ranges."""
    terms = [F.col("healpix").between(lo, hi) for lo, hi in fine_ranges(pixels, order)] or [F.lit(False)]
    while len(terms) > 1:  # a balanced OR tree: a long left-deep chain overflows Spark's analyser stack
        terms = [terms[i] | terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def run_crossmatch(
    spark: SparkSession,
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
) -> dict:
    """Cross-match two catalogues and write the run folder `out`; returns the run.json content."""
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
    radio_all = read_catalog(spark, radio_location)
    _require(radio_all, ["source_id", "ra", "dec", "epoch"], "radio")
    radio, radio_bad = split_valid(radio_all, "radio")
    radio = radio.cache()
    radio_cols = radio.select(
        "source_id",
        F.col("ra").cast("double"),
        F.col("dec").cast("double"),
        F.col("epoch").cast("double"),
        _double(radio, "ra_error").alias("ra_error"),
        _double(radio, "dec_error").alias("dec_error"),
        *[_double(radio, c).alias(c) for c in ELLIPSE_COLUMNS],
    )

    # Stars near the radio footprint (its pixels at the coarsest join order, plus neighbours): enough for the
    # statistics, since the reach can never exceed such a pixel; far-away HATS files are never opened.
    foot = np.array(
        [r[0] for r in radio_cols.mapInArrow(pixel_rows(MIN_JOIN_ORDER), PIXEL_ROWS).distinct().collect()],
        dtype=np.int64,
    )
    foot = with_neighbours(foot, MIN_JOIN_ORDER)
    stars_all = read_catalog(spark, stars_location, coverage=(MIN_JOIN_ORDER, foot))
    if "healpix" in stars_all.columns:
        stars_all = stars_all.filter(healpix_filter(MIN_JOIN_ORDER, foot))
    _require(stars_all, ["source_id", "ra", "dec", "epoch", "healpix"], "star")
    stats, n_stars_bad = catalogue_stats(radio_cols, stars_all)
    plan = plan_match(stats, radius_arcsec, n_sigma, join_order)
    timer.lap("statistics")

    rep_schema = _spark_schema(MATCH_INPUT)
    replicas = radio_cols.mapInArrow(replicator(plan, n_offsets, offset_arcmin, region_order), rep_schema)
    replicas = replicas.cache()
    keys = np.array([r[0] for r in replicas.select("key").distinct().collect()], dtype=np.int64)
    cov_order, cov_pix = coverage(keys, plan.join_order, density_order)
    timer.lap("replicas")

    stars_near = read_catalog(spark, stars_location, coverage=(cov_order, cov_pix))
    stars_near = stars_near.filter(healpix_filter(cov_order, cov_pix))
    stars = split_valid(stars_near, "star")[0]
    shift = 2 * (HEALPIX_ORDER - plan.join_order)
    star_rows = stars.select(
        F.shiftright(F.col("healpix").cast("long"), shift).alias("key"),
        F.lit(STAR_SIDE).cast("byte").alias("side"),
        F.lit(0).cast("int").alias("offset"),
        F.col("source_id").alias("id"),
        *[
            _double(stars, c).alias(c)
            for c in ("ra", "dec", "epoch", "ra_error", "dec_error", "pmra", "pmdec", "pmra_error", "pmdec_error")
        ],
        *[F.lit(None).cast("double").alias(c) for c in ELLIPSE_COLUMNS],
        F.lit(None).cast("long").alias("region"),
    )

    n_rows = stats.n_radio * (n_offsets + 1) * 1.5 + stats.n_stars
    n_parts = max(spark.sparkContext.defaultParallelism * 2, math.ceil(n_rows / ROWS_PER_PARTITION))
    found = (
        replicas.unionByName(star_rows)
        .repartition(n_parts, "key")
        .sortWithinPartitions("key", "side")
        .mapInArrow(matcher(plan.criteria), _spark_schema(FOUND))
    ).persist()
    n_found = found.count()
    timer.lap("match")

    real = found.filter(F.col("offset") == 0).drop("offset", "region")
    # Local density around each matched radio source, from star counts per pixel at density_order.
    d_shift = 2 * (HEALPIX_ORDER - density_order)
    counts = stars.groupBy(F.shiftright(F.col("healpix").cast("long"), d_shift).alias("pixel")).count()
    matched_radio = radio_cols.join(real.select(F.col("radio_id").alias("source_id")).distinct(), "source_id")
    dens_schema = _spark_schema(pa.schema([("radio_id", pa.string()), ("pixel", pa.int64()), ("n_cells", pa.int32())]))
    density = (
        matched_radio.select("source_id", "ra", "dec")
        .mapInArrow(density_rows(density_order), dens_schema)
        .join(counts, "pixel", "left")
        .groupBy("radio_id")
        .agg(
            (F.sum(F.coalesce("count", F.lit(0))) / (F.first("n_cells") * pixel_area_deg2(density_order))).alias(
                "star_density_deg2"
            )
        )
    )

    ranked = real.withColumn(
        "rank", F.row_number().over(Window.partitionBy("radio_id").orderBy("separation_arcsec", "star_id")).cast("int")
    )
    if k_nearest is not None:
        ranked = ranked.filter(F.col("rank") <= k_nearest)
    pairs = (
        ranked.join(density, "radio_id", "left")
        .withColumn("star_density_deg2", F.coalesce("star_density_deg2", F.lit(0.0)))
        .withColumn(
            "p_chance", -F.expm1(-math.pi * (F.col("separation_arcsec") / 3600.0) ** 2 * F.col("star_density_deg2"))
        )
        .withColumn("run_id", F.lit(run_id))
        .select(*[n for n in PAIRS_SCHEMA.names if n not in ASSOCIATION_COLUMNS])
    ).persist()
    stats_frame = offset_statistics(spark, found, radio_cols, plan, n_offsets, region_order, run_id)
    # The association step: likelihood ratio and posterior per pair, prior per radio-error class.
    priors, scales = spark_priors(radio_cols, found, n_offsets)
    unassociated = pairs
    pairs = associate_spark(pairs.join(scales, "radio_id", "left"), priors).select(*PAIRS_SCHEMA.names).persist()

    write_table(pairs, f"{out}/pairs")
    unassociated.unpersist()
    scales.unpersist()
    timer.lap("rank_density_write_pairs")
    write_table(pairs.filter(F.col("rank") == 1), f"{out}/best")
    write_table(spark.createDataFrame(stats_frame, schema=_spark_schema(OFFSET_STATS_SCHEMA)), f"{out}/offset_stats")
    pair_ids = pairs.select("radio_id", "star_id")
    write_table(
        radio.join(pair_ids.select(F.col("radio_id").alias("source_id")).distinct(), "source_id").withColumn(
            "survey", F.lit(radio_name)
        ),
        f"{out}/radio_sources",
    )
    write_table(
        stars.join(pair_ids.select(F.col("star_id").alias("source_id")).distinct(), "source_id").withColumn(
            "survey", F.lit(star_name)
        ),
        f"{out}/stars",
    )
    n_radio_bad = radio_bad.count()
    if n_radio_bad:
        write_table(radio_bad, f"{out}/quarantine/radio")
    if n_stars_bad:
        write_table(split_valid(stars_all, "star")[1], f"{out}/quarantine/stars")
    timer.lap("other_tables")

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
        "n_stars": stats.n_stars,
        "n_pairs": pairs.count(),
        "n_best": pairs.filter(F.col("rank") == 1).count(),
        "expected_false_matches": float(
            stats_frame.loc[
                stats_frame["radius_arcsec"] == stats_frame["radius_arcsec"].max(), "expected_false_matches"
            ].sum()
        )
        if len(stats_frame)
        else 0.0,
        "association_prior": priors.as_dict(),
        "k_nearest": k_nearest,
        "join_order": plan.join_order,
        "density_order": density_order,
        "region_order": region_order,
        "search_arcsec": plan.criteria.search_arcsec,
        "reach_arcsec": plan.reach_arcsec,
        "n_radio_quarantined": n_radio_bad,
        "n_stars_quarantined": n_stars_bad,
        "n_candidates_incl_offsets": n_found,
        "stats": asdict(stats),
        "timings_s": timer.times,
    }
    found.unpersist()
    pairs.unpersist()
    replicas.unpersist()
    radio.unpersist()
    write_text(json.dumps(summary, indent=2), f"{out}/run.json")  # last: marks the run as whole
    return summary


def offset_statistics(
    spark: SparkSession,
    found: DataFrame,
    radio_cols: DataFrame,
    plan: MatchPlan,
    n_offsets: int,
    region_order: int,
    run_id: str,
) -> pd.DataFrame:
    """OFFSET_STATS rows: per region and radius, offset-sky sources with a match, summed and averaged."""
    radii = radius_grid(plan.criteria.search_arcsec)
    n_radio = (
        radio_cols.select("ra", "dec")
        .mapInArrow(pixel_rows(region_order), PIXEL_ROWS)
        .groupBy(F.col("pixel").alias("region"))
        .count()
        .toPandas()
    )
    nearest = (
        found.filter(F.col("offset") > 0)
        .groupBy("offset", "radio_id", "region")
        .agg(F.min("separation_arcsec").alias("sep"))
    )
    agg = (
        nearest.groupBy("region")
        .agg(*[F.sum((F.col("sep") <= r).cast("long")).alias(f"r{i}") for i, r in enumerate(radii)])
        .toPandas()
        .set_index("region")
    )
    rows = []
    for region, n in zip(n_radio["region"], n_radio["count"], strict=True):
        for i, radius in enumerate(radii):
            total = int(agg.at[region, f"r{i}"]) if region in agg.index else 0
            rows.append(offset_stats_row(run_id, region_order, region, radius, n_offsets, n, total))
    frame = pd.DataFrame(rows, columns=OFFSET_STATS_SCHEMA.names)
    return frame.astype(
        {
            "region_order": "int32",
            "n_offsets": "int32",
            "region_pixel": "int64",
            "n_radio": "int64",
            "false_matches_total": "int64",
        }
    )
