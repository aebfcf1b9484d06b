"""The association post-processing step: likelihood ratio and posterior for every final pair.

Runs once, over the final pairs of a run (after ranking, density and the offset skies), in the in-memory core
(`associate_frame`) and in the Spark job (`associate_spark`), both through the pure-numpy math of
`radiolake.crossmatch.association`. The prior comes from the run's own counts: per class of radio positional
error, the real radio sources with a match against the chance matches the offset skies found for the same
sources (`priors_from_counts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from radiolake.crossmatch.association import class_priors, likelihood_ratio, posterior
from radiolake.crossmatch.positional_errors import error_scale

#: Columns the step adds to the pairs.
ASSOCIATION_COLUMNS = ("likelihood_ratio", "association_probability")


#: Radio sources are split into this many classes by positional error (quantiles) for the prior.
PRIOR_CLASSES = 8


@dataclass(frozen=True)
class Priors:
    """Prior probability that a radio source has its counterpart in the stellar catalogue, per class of radio
    positional error (`radio_error_scale`, det(C)^(1/4) arcsec).

    Why classes of error: radio stars and background galaxies differ in flux and size, hence in how well they
    are located; a single prior makes faint, poorly located background sources look as likely to be stars as
    the well located ones, and the posterior comes out overconfident for them. The error is known for every
    radio source, so the prior can be measured per class from the run itself."""

    edges: tuple[float, ...]  # inner class boundaries, ascending; len(values) == len(edges) + 1
    values: tuple[float, ...]
    run: float
    n_radio: tuple[int, ...] = ()
    n_matched: tuple[int, ...] = ()
    expected_false: tuple[float, ...] = ()

    def for_scales(self, scales: np.ndarray) -> np.ndarray:
        """The prior of each radio source from its error scale (unknown error: the run's prior)."""
        scales = np.asarray(scales, dtype=np.float64)
        cls = np.searchsorted(np.asarray(self.edges, dtype=np.float64), scales, side="right")
        return np.where(np.isfinite(scales), np.asarray(self.values, dtype=np.float64)[cls], self.run)

    def as_dict(self) -> dict:
        return {
            "method": "Sutherland & Saunders 1992 posterior; prior = (matched - offset-sky chance) / (radio - chance)",
            "run": self.run,
            "error_class_edges_arcsec": list(self.edges),
            "by_error_class": list(self.values),
            "n_radio": list(self.n_radio),
            "n_matched": list(self.n_matched),
            "expected_false": list(self.expected_false),
        }


def class_edges(scales: np.ndarray, n_classes: int = PRIOR_CLASSES) -> np.ndarray:
    """Inner boundaries splitting the known error scales into (about) equal-count classes."""
    s = np.asarray(scales, dtype=np.float64)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return np.zeros(0)
    return np.unique(np.quantile(s, np.linspace(0, 1, n_classes + 1)[1:-1]))


def error_classes(scales: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index of each scale (unknown: -1)."""
    scales = np.asarray(scales, dtype=np.float64)
    cls = np.searchsorted(np.asarray(edges, dtype=np.float64), scales, side="right")
    return np.where(np.isfinite(scales), cls, -1)


def priors_from_counts(
    edges: np.ndarray, n_radio: np.ndarray, n_matched: np.ndarray, expected_false: np.ndarray
) -> Priors:
    """Priors from per-class counts: radio sources, real ones with a match, and the chance matches the offset
    skies predict (offset sources with a match / number of offset skies).

    Without offset skies nothing says how many matches are chance: pass expected_false 0, every match then
    counts as real and the posteriors are optimistic (run with offsets for calibrated ones)."""
    q_cls, q_run = class_priors(n_radio, n_matched, expected_false)
    return Priors(
        tuple(float(e) for e in edges),
        tuple(float(q) for q in q_cls),
        q_run,
        tuple(int(n) for n in n_radio),
        tuple(int(m) for m in n_matched),
        tuple(float(e) for e in expected_false),
    )


def priors_from_frames(
    radio_ids: np.ndarray,
    radio_scales: np.ndarray,
    matched_ids: np.ndarray,
    offset_matches: pd.DataFrame,
    n_offsets: int,
) -> Priors:
    """Priors from a run in memory: every radio source's id and error scale, the ids of real sources with a
    match, and the offset-sky pairs (columns offset, radio_id)."""
    edges = class_edges(radio_scales)
    cls = pd.Series(error_classes(radio_scales, edges), index=pd.Index(radio_ids))
    n_cls = len(edges) + 1
    known = cls[cls >= 0]
    n_radio = np.bincount(known.to_numpy(), minlength=n_cls)
    m = cls.reindex(pd.unique(np.asarray(matched_ids, dtype=object))).to_numpy()
    n_matched = np.bincount(m[m >= 0].astype(int), minlength=n_cls)
    chance = offset_matches[["offset", "radio_id"]].drop_duplicates()
    c = cls.reindex(chance["radio_id"].to_numpy()).to_numpy()
    false_total = np.bincount(c[c >= 0].astype(int), minlength=n_cls)
    expected = false_total / n_offsets if n_offsets else np.zeros(n_cls)
    return priors_from_counts(edges, n_radio, n_matched, expected)


def association_arrays(
    radio_id: np.ndarray,
    separation_sigma: np.ndarray,
    combined_error_arcsec: np.ndarray,
    density_deg2: np.ndarray,
    prior: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(likelihood_ratio, association_probability) for pairs; all pairs of a radio source must be present."""
    lr = likelihood_ratio(separation_sigma, combined_error_arcsec, density_deg2)
    codes = pd.factorize(pd.Series(radio_id, dtype=object))[0]
    return lr, posterior(codes, lr, prior)


def associate_frame(pairs: pd.DataFrame, priors: Priors) -> pd.DataFrame:
    """The pairs with `likelihood_ratio` and `association_probability` added (pandas, in memory); needs a
    `radio_error_scale` column (the radio source's own error scale, which picks its prior)."""
    lr, p = association_arrays(
        pairs["radio_id"].to_numpy(object),
        pairs["separation_sigma"].to_numpy(np.float64, na_value=np.nan),
        pairs["combined_error_arcsec"].to_numpy(np.float64, na_value=np.nan),
        pairs["star_density_deg2"].to_numpy(np.float64),
        priors.for_scales(pairs["radio_error_scale"].to_numpy(np.float64, na_value=np.nan)),
    )
    return pairs.assign(likelihood_ratio=lr, association_probability=p)


def _arrow_step(priors: Priors, schema: pa.Schema) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """mapInArrow over a partition sorted by radio_id: whole radio sources at a time (a source's pairs may
    straddle two batches, so the last source of a batch waits for the next one)."""

    def add(table: pa.Table) -> pa.Table:
        df = table.to_pandas()
        out = associate_frame(df, priors)
        return pa.Table.from_pandas(out, schema=schema, preserve_index=False)

    def step(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: pa.Table | None = None
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            if pending is not None:
                table = pa.concat_tables([pending, table])
            ids = table.column("radio_id").to_numpy(zero_copy_only=False)
            last = ids[-1]
            cut = len(ids) - int(np.sum(ids == last))  # sorted: the last source's rows are at the end
            if cut > 0:
                yield from add(table.slice(0, cut)).to_batches()
            pending = table.slice(cut)
        if pending is not None and pending.num_rows:
            yield from add(pending).to_batches()

    return step


def associate_spark(pairs, priors: Priors):
    """The pairs (a Spark DataFrame with the PAIRS columns but the association ones) with the association
    columns added, computed by the same numpy code in Arrow batches, one radio source never split."""
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    schema = to_arrow_schema(pairs.schema)
    for name in ASSOCIATION_COLUMNS:
        schema = schema.append(pa.field(name, pa.float64()))
    return (
        pairs.repartition("radio_id")
        .sortWithinPartitions("radio_id")
        .mapInArrow(_arrow_step(priors, schema), from_arrow_schema(schema))
    )


def _scale_rows(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: radio rows -> (radio_id, radio_error_scale)."""
    from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS

    for b in batches:
        if b.num_rows == 0:
            continue
        cols = [b.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in ("ra_error", "dec_error")]
        cols += [b.column(c).to_numpy(zero_copy_only=False).astype(np.float64) for c in ELLIPSE_COLUMNS]
        yield pa.RecordBatch.from_pydict(
            {"radio_id": b.column("source_id"), "radio_error_scale": error_scale(*cols)}, schema=SCALE_SCHEMA
        )


#: Up to this many radio sources, the class edges are exact quantiles computed on the driver.
EXACT_EDGES_MAX = 2_000_000
SCALE_SCHEMA = pa.schema([("radio_id", pa.string()), ("radio_error_scale", pa.float64())])


def spark_priors(radio, found, n_offsets: int):
    """(Priors, radio_id -> radio_error_scale DataFrame) of a Spark run.

    radio: every valid radio row (source_id, ra_error, dec_error and the ellipse columns); found: the matched
    pairs of the real (offset 0) and offset skies (columns offset, radio_id)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema

    scales = radio.mapInArrow(_scale_rows, from_arrow_schema(SCALE_SCHEMA)).cache()
    known = scales.filter(F.col("radio_error_scale").isNotNull() & ~F.isnan("radio_error_scale"))
    if known.count() <= EXACT_EDGES_MAX:  # the same edges as the in-memory core
        edges = class_edges(known.select("radio_error_scale").toPandas()["radio_error_scale"].to_numpy())
    else:
        probs = list(np.linspace(0, 1, PRIOR_CLASSES + 1)[1:-1])
        edges = np.unique(np.array(known.approxQuantile("radio_error_scale", probs, 1e-4), dtype=np.float64))
    cls = F.lit(len(edges))
    for i in reversed(range(len(edges))):
        cls = F.when(F.col("radio_error_scale") < float(edges[i]), F.lit(i)).otherwise(cls)
    classes = known.select("radio_id", cls.alias("cls"))
    n_cls = len(edges) + 1

    def counts(df) -> np.ndarray:
        rows = df.join(classes, "radio_id").groupBy("cls").count().collect()
        out = np.zeros(n_cls)
        for r in rows:
            out[int(r["cls"])] = r["count"]
        return out

    n_radio = counts(classes.select("radio_id"))
    n_matched = counts(found.filter(F.col("offset") == 0).select("radio_id").distinct())
    chance = counts(found.filter(F.col("offset") > 0).select("offset", "radio_id").distinct())
    expected = chance / n_offsets if n_offsets else np.zeros(n_cls)
    return priors_from_counts(edges, n_radio, n_matched, expected), scales
