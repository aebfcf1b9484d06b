"""What a run's association prior is fitted from, per radio source it read: kept with the run, so that a later
run over a grown catalogue fits the prior over the catalogue so far and not only over what it matched itself
(issue 22, crossmatch.carry).

The prior (crossmatch.priors) needs, of every radio source: its error scale (its error class, and the classes'
boundaries are quantiles over all sources), its candidates' population classes and likelihood ratios (the EM)
and how many offset skies put a star of each class near it (the chance count). All of it is per source and
none of it depends on which other sources a run read (the densities behind the LR are measured per region,
density.region_shares), so the sources of several runs together give the prior one run over all of them
gives, to the bit: every sum over sources in the fit is a sum of integers (priors.priors_from_sources,
priors._count_weighted), so their order does not matter either.

A run's folder holds them under `association/` (not loaded into the warehouse):

    association/sources       radio_id, region (pixel at region_order), error_scale (arcsec, null: unknown)
    association/candidates    source (row of sources), rank, star_class, likelihood_ratio; by source, rank
    association/offset_hits   source, star_class, n_offset_skies (offset skies with a match of that class)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from radiolake.crossmatch.arrays import string_array
from radiolake.crossmatch.io import read_arrow
from radiolake.crossmatch.likelihood import posterior
from radiolake.crossmatch.priors import Priors, offset_hits, priors_from_sources, refine_priors

log = logging.getLogger(__name__)

#: The run folder's tables of association inputs.
TABLES = ("sources", "candidates", "offset_hits")
FOLDER = "association"


@dataclass
class AssociationInputs:
    """Per radio source: id, region (pixel at the run's region_order), error scale det(C)^(1/4) in arcsec (NaN:
    unknown). Per candidate pair (every star within the search, before a k-nearest cut), sorted by source then
    rank: its source (index of the arrays above), rank, star population class, likelihood ratio. Per (source,
    class) with any: the offset skies with a match of that class (`hits`: source, class, count)."""

    radio_id: pa.Array | pa.ChunkedArray
    region: np.ndarray
    scale: np.ndarray
    source: np.ndarray
    rank: np.ndarray
    star_class: np.ndarray
    lr: np.ndarray
    hits: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    # size: the run's per-source and per-candidate arrays, and its offset-sky pairs
    def of_run(cls, radio_id: pa.Array | pa.ChunkedArray, region: np.ndarray, scale: np.ndarray,
               candidates: tuple[np.ndarray, ...], offset_pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
               n_offsets: int) -> AssociationInputs:
        """From a run's arrays: `candidates` (radio row, rank, class, LR) in (row, rank) order, `offset_pairs`
        (offset sky, radio row, class) of every offset-sky pair."""
        rows, rank, star_class, lr = candidates
        return cls(radio_id, np.asarray(region, np.int64), np.asarray(scale, np.float64), np.asarray(rows, np.int64),
                   np.asarray(rank, np.int32), np.asarray(star_class, np.int64), np.asarray(lr, np.float64),
                   offset_hits(*offset_pairs, np.asarray(scale).size, n_offsets))

    @property
    def n_sources(self) -> int:
        return int(self.region.size)

    def fit_priors(self, n_offsets: int) -> Priors:
        """The priors of these sources: offset-sky counts, refined by EM over the candidates' LRs."""
        priors = priors_from_sources(self.scale, self.source, self.star_class, self.hits, n_offsets)
        return refine_priors(priors, self.source, self.scale[self.source], self.star_class, self.lr)

    def probabilities(self, priors: Priors) -> np.ndarray:
        """Every candidate's association probability under `priors`."""
        return posterior(self.source, self.lr, *priors.for_pairs(self.scale[self.source], self.star_class))

    def select(self, keep: np.ndarray) -> AssociationInputs:
        """The sources where `keep`, with their candidates and hits (renumbered, order kept)."""
        keep = np.asarray(keep, bool)
        new_index = np.cumsum(keep) - 1
        cand, hit = keep[self.source], keep[self.hits[0]]
        return AssociationInputs(self.radio_id.filter(pa.array(keep)), self.region[keep], self.scale[keep],
                                 new_index[self.source[cand]], self.rank[cand], self.star_class[cand], self.lr[cand],
                                 (new_index[self.hits[0][hit]], self.hits[1][hit], self.hits[2][hit]))

    @staticmethod
    def concat(first: AssociationInputs, second: AssociationInputs) -> AssociationInputs:
        """`first`'s sources, then `second`'s (its indices shifted): still sorted by source, rank."""
        n = first.n_sources
        ids = pa.chunked_array([c for a in (first.radio_id, second.radio_id) for c in _chunks(a)], pa.string())
        return AssociationInputs(ids, np.concatenate([first.region, second.region]),
                                 np.concatenate([first.scale, second.scale]),
                                 np.concatenate([first.source, second.source + n]),
                                 np.concatenate([first.rank, second.rank]),
                                 np.concatenate([first.star_class, second.star_class]),
                                 np.concatenate([first.lr, second.lr]),
                                 tuple(np.concatenate([a, b + (n if k == 0 else 0)])
                                       for k, (a, b) in enumerate(zip(first.hits, second.hits, strict=True))))

    def candidate_index(self, radio_id: pa.Array | pa.ChunkedArray, rank: np.ndarray) -> np.ndarray:
        """The candidate of each (radio id, rank) pair, e.g. of a pairs table's rows (every one must be here)."""
        source = pc.index_in(radio_id, value_set=string_array(self.radio_id)).to_numpy(zero_copy_only=False)
        if np.isnan(np.asarray(source, np.float64)).any():
            raise ValueError("a pair's radio source is missing from the association inputs")
        width = int(max(self.rank.max(initial=0), np.max(rank, initial=0))) + 1
        keys = self.source * width + self.rank
        wanted = np.asarray(source, np.int64) * width + np.asarray(rank, np.int64)
        at = np.searchsorted(keys, wanted)
        if not np.array_equal(keys[np.minimum(at, keys.size - 1)], wanted):
            raise ValueError("a pair is missing from the association inputs' candidates")
        return at

    def tables(self) -> dict[str, pa.Table]:
        h_source, h_class, h_count = self.hits
        return {
            "sources": pa.table({"radio_id": pc.cast(self.radio_id, pa.string()), "region": self.region,
                                 "error_scale": pa.array(self.scale, pa.float64(), from_pandas=True)}),
            "candidates": pa.table({"source": self.source, "rank": self.rank,
                                    "star_class": self.star_class.astype(np.int8), "likelihood_ratio": self.lr}),
            "offset_hits": pa.table({"source": np.asarray(h_source, np.int64),
                                     "star_class": np.asarray(h_class, np.int8),
                                     "n_offset_skies": np.asarray(h_count, np.int32)}),
        }

    @classmethod
    def read(cls, prefix: str) -> AssociationInputs | None:
        """A run folder's association inputs; None when it has none (a run from before they were kept)."""
        try:
            t = {name: read_arrow(f"{prefix}/{FOLDER}/{name}") for name in TABLES}
        except (FileNotFoundError, OSError) as exc:
            log.info("run folder %s holds no association inputs (%s)", prefix, exc)
            return None
        src, cand, hits = t["sources"], t["candidates"], t["offset_hits"]

        def col(table: pa.Table, name: str, dtype: type) -> np.ndarray:
            return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype)

        return cls(src.column("radio_id").combine_chunks(), col(src, "region", np.int64),
                   col(src, "error_scale", np.float64), col(cand, "source", np.int64), col(cand, "rank", np.int32),
                   col(cand, "star_class", np.int64), col(cand, "likelihood_ratio", np.float64),
                   (col(hits, "source", np.int64), col(hits, "star_class", np.int64),
                    col(hits, "n_offset_skies", np.int64)))


def _chunks(ids: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    ids = pc.cast(ids, pa.string())
    return list(ids.chunks) if isinstance(ids, pa.ChunkedArray) else [ids]
