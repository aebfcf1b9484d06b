"""The cross-match engine: star chunks matched against the radio skies that reach them, fast movers apart.

Stars never move: a chunk of stars (a HEALPix pixel file, a run of row groups sorted by `healpix`, or any
set of rows) is matched where it is read, against only the radio rows whose cone reaches the chunk's sky.
The radio side is small, so it is the side that is indexed and shipped:

- `RadioSkies` holds the radio rows (`RadioRows`: the real sky; offset sky k is computed from it where it is
  used, *sky row* = k * n_radio + row) and their replicas (every pixel a row's cone, in any sky, may reach),
  sorted by pixel. The radio rows a chunk needs are one `searchsorted` away: the replicas keyed inside the
  chunk's pixel range. Offset skies are just more sky rows of the same chunk: one pass over the stars.
- `match_star_chunk` splits the chunk's stars by how far they can move (|mu| x largest epoch gap): the slow
  ones (nearly all) are matched by a kernel (kernels.py; declination zones by default) against the chunk's
  radio rows; the fast ones are returned so the driver can give each its own, wide, star-side search
  (`match_fast_stars`, by default a KD-tree over all sky rows queried with a per-star radius). The reach of
  the partitioning thus follows the slow stars only.

Each (radio, star) pair is found once: a star belongs to one chunk, and a slow star's every possible partner
has a replica in the star's own pixel (see partitioning.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from radiolake.crossmatch.epochs import EARTH_BARYCENTRE_MAX_AU
from radiolake.crossmatch.kernels import MatchKernel
from radiolake.crossmatch.pairs import (
    ELLIPSE_COLUMNS,
    SPAN_COLUMN,
    MatchCriteria,
    empty_result,
)
from radiolake.crossmatch.populations import POPULATION_COLUMNS, classes_of
from radiolake.crossmatch.sky import offset_sky_position
from radiolake.schema import HEALPIX_ORDER

#: With offset skies, up to this many sky rows (radio rows x skies) are replicated per sky by the driver
#: (16 bytes each, ~0.5 GB at the limit); above it (10 M radio sources x 9 skies) a chunk takes the real rows
#: inside its ra/dec boxes widened by the offset, and every sky of each.
MAX_SKY_REPLICA_ROWS = 30_000_000

#: Star columns the match reads (pmra_error/pmdec_error may be absent: then NaN); the parallax places a nearby
#: star where the Earth sees it on the radio date (epochs.apply_parallax); parallax, its error, RUWE and the
#: magnitudes give each star its population class (populations.py; absent: unknown).
STAR_MATCH_COLUMNS = ("ra", "dec", "epoch", "pmra", "pmdec", "ra_error", "dec_error", "pmra_error", "pmdec_error",
                      "parallax", "parallax_error", "ruwe", "phot_g_mean_mag", "hpmag")


def displacement_arcsec(stars: dict[str, np.ndarray], radio_epoch_min: float, radio_epoch_max: float) -> np.ndarray:
    """How far each star can move between its epoch and any radio epoch (arcsec); 0 without proper motion.

    Written for ~1 µs per thousand stars: it runs on every star of every chunk."""
    pm = np.square(stars["pmra"])
    pm += np.square(stars["pmdec"])  # NaN when either component is unknown: no motion, see below
    np.sqrt(pm, out=pm)
    epoch = stars["epoch"]
    e_lo, e_hi = (float(epoch.min()), float(epoch.max())) if epoch.size else (0.0, 0.0)
    # One catalogue epoch (Gaia's 2016.0): a scalar epoch gap. Never taken with a NaN epoch (NaN != NaN):
    # those rows take the per-row path and get 0.
    if e_lo == e_hi:
        pm *= max(abs(radio_epoch_max - e_lo), abs(e_lo - radio_epoch_min)) / 1000.0
    else:
        pm *= np.maximum(np.abs(radio_epoch_max - epoch), np.abs(epoch - radio_epoch_min)) / 1000.0
    np.fmax(pm, 0.0, out=pm)  # NaN (no proper motion or epoch) -> 0
    if "parallax" in stars:  # plus the parallactic displacement on any radio date (NaN, negative: none)
        pm += np.fmax(stars["parallax"], 0.0) * (EARTH_BARYCENTRE_MAX_AU / 1000.0)
    return pm


def radio_columns(radio: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The radio columns the engine keeps, as float64 (NaN: unknown); the error-ellipse columns only where the
    catalogue gives an ellipse for some row. An ellipse column that is all NaN means "no ellipse" to
    `radio_covariance` either way, and at 10 M sources three of them are 240 MB in every process."""
    n = radio["ra"].size
    columns = {c: np.asarray(radio[c], dtype=np.float64) if c in radio else np.full(n, np.nan)
               for c in ("ra", "dec", "epoch", "ra_error", "dec_error")}
    columns.update({c: np.asarray(radio[c], dtype=np.float64) for c in (*ELLIPSE_COLUMNS, SPAN_COLUMN)
                    if c in radio and np.isfinite(radio[c]).any()})
    return columns


@dataclass
class RadioRows:
    """The valid radio rows (real sky) and how to make the offset skies from them.

    Sky row = offset * n_radio + row. Offset skies are computed where they are used (a task computes them
    for its own rows), never shipped: 8 offset skies would otherwise multiply what travels by 9."""

    columns: dict[str, np.ndarray]  # ra, dec, epoch, ra_error, dec_error, ELLIPSE_COLUMNS if given (NaN: none)
    n_offsets: int
    offset_arcmin: float

    @property
    def n_radio(self) -> int:
        return int(self.columns["ra"].size)

    @property
    def epoch_range(self) -> tuple[float, float]:
        e = self.columns["epoch"]
        return (float(e.min()), float(e.max())) if e.size else (0.0, 0.0)

    def arrays_for_sky(self, sky: np.ndarray) -> dict[str, np.ndarray]:
        """A kernel's radio columns for these sky rows (one common key: the chunk decides locality)."""
        sky = np.asarray(sky, dtype=np.int64)
        n = self.n_radio
        row = sky % n if n else sky
        offset = sky // n if n else sky
        ra, dec = self.columns["ra"][row], self.columns["dec"][row]
        if self.n_offsets and (offset > 0).any():
            ra, dec = ra.copy(), dec.copy()
            for k in np.unique(offset[offset > 0]):
                m = offset == k
                ra[m], dec[m] = offset_sky_position(ra[m], dec[m], int(k), self.n_offsets, self.offset_arcmin)
        out = {"sky": sky, "key": np.zeros(sky.size, np.int64), "ra": ra, "dec": dec}
        for c in ("epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS, SPAN_COLUMN):
            if c in self.columns:  # an error ellipse nowhere given is left out (evaluate_pairs: None)
                out[c] = self.columns[c][row]
        return out

    def arrays(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Every sky's version of these real rows (real sky first)."""
        rows = np.asarray(rows, dtype=np.int64)
        sky = (np.arange(self.n_offsets + 1, dtype=np.int64)[:, None] * self.n_radio + rows[None, :]).ravel()
        return self.arrays_for_sky(sky)


@dataclass
class RadioSkies:
    """The radio rows, their replicas (every join pixel a row's cone in the real sky may reach) and, with
    offset skies, the rows sorted by dec.

    A chunk's rows of the offset skies are the real rows within the reach plus the offset of the chunk's
    stars: inside the chunk's ra/dec bounds (from the Parquet footers) widened by that distance. A superset
    only costs a little work: each pair is still found once, in the chunk of its star."""

    radio: RadioRows
    order: int  # join order of rep_key
    rep_key: np.ndarray  # pixel of each replica, sorted
    rep_row: np.ndarray  # real radio row of each replica
    reach_arcsec: float
    by_dec: np.ndarray | None = None  # with offset skies: rows sorted by dec
    dec_sorted: np.ndarray | None = None  # with offset skies: dec[by_dec] (gathered once, not per chunk)
    sky_rows: bool = False  # rep_row holds sky rows: every sky's rows replicated by their own (shifted) cones

    @classmethod
    def build(
        cls,
        radio: dict[str, np.ndarray],
        reach_arcsec: float,
        join_order: int,
        n_offsets: int,
        offset_arcmin: float,
        map_skies: Callable[[Callable, Any, list[int]], list] | None = None,
    ) -> RadioSkies:
        """`map_skies(fn, shared, skies)`: where the skies' replicas are computed (an executor's `map`: the
        local pool's idle workers while the driver plans; None: here, one sky after the other)."""
        from radiolake.crossmatch.partitioning import radio_replicas  # driver only

        columns = radio_columns(radio)
        n = columns["ra"].size
        if n_offsets and (n_offsets + 1) * n <= MAX_SKY_REPLICA_ROWS:
            # each sky's rows replicated where their own cones reach: a chunk gets only the sky rows that can
            # land on its stars (the ra/dec boxes below took ~4x more at 10 M x 1 M)
            shared = (columns["ra"], columns["dec"], reach_arcsec, join_order, n_offsets, offset_arcmin)
            skies = list(range(n_offsets + 1))
            parts = (map_skies or _serial_map)(sky_replicas, shared, skies)
            key = np.concatenate([k for _, k in parts])
            order = np.argsort(key, kind="stable")
            rows = np.concatenate([r + k * n for k, (r, _) in enumerate(parts)])[order]
            return cls(RadioRows(columns, n_offsets, offset_arcmin), join_order, key[order], rows, reach_arcsec,
                       sky_rows=True)
        rows, key = radio_replicas(columns["ra"], columns["dec"], reach_arcsec, join_order)  # sorted by key
        by_dec = np.argsort(columns["dec"], kind="stable") if n_offsets else None
        dec_sorted = columns["dec"][by_dec] if n_offsets else None
        return cls(RadioRows(columns, n_offsets, offset_arcmin), join_order, key, rows, reach_arcsec, by_dec,
                   dec_sorted)

    @property
    def n_radio(self) -> int:
        return self.radio.n_radio

    @property
    def epoch_range(self) -> tuple[float, float]:
        return self.radio.epoch_range

    @property
    def offset_arcsec(self) -> float:
        return self.radio.offset_arcmin * 60.0 if self.radio.n_offsets else 0.0

    def keys(self) -> np.ndarray:
        """Distinct join pixels the radio cones reach (of the real sky; of every sky with `sky_rows`)."""
        return np.unique(self.rep_key)

    def rows_for_keys(self, key_lo: int, key_hi: int) -> np.ndarray:
        """Rows (sky rows with `sky_rows`) with a replica in join pixels [key_lo, key_hi], each once, sorted."""
        a = np.searchsorted(self.rep_key, key_lo, side="left")
        b = np.searchsorted(self.rep_key, key_hi, side="right")
        rows = np.sort(self.rep_row[a:b])  # sort + neighbour test: np.unique's hash path was slower here
        return rows[np.r_[True, rows[1:] != rows[:-1]]] if rows.size else rows

    def rows_in_box(self, box: tuple[float, float, float, float], margin_arcsec: float) -> np.ndarray:
        """Real rows inside an ra/dec box widened by `margin_arcsec` (RA 0/360 and the poles handled)."""
        from radiolake.crossmatch.zones import ra_half_width_deg

        ra_lo, ra_hi, dec_lo, dec_hi = box
        d = margin_arcsec / 3600.0 * (1 + 1e-9) + 1e-9
        a = np.searchsorted(self.dec_sorted, dec_lo - d, side="left")
        b = np.searchsorted(self.dec_sorted, dec_hi + d, side="right")
        rows = self.by_dec[a:b]
        w = float(ra_half_width_deg(np.array([max(abs(dec_lo), abs(dec_hi))]), d)[0])
        if w >= 180.0 or ra_hi - ra_lo + 2 * w >= 360.0:
            return np.sort(rows)
        ra = self.radio.columns["ra"][rows]
        lo, hi = ra_lo - w, ra_hi + w
        inside = (ra >= lo) & (ra <= hi) | (ra >= lo + 360.0) | (ra <= hi - 360.0)
        return np.sort(rows[inside])

    def rows_for_chunk(self, hp_lo: int | None, hp_hi: int | None,
                       boxes: tuple[tuple[float, float, float, float], ...] | None = None) -> np.ndarray:
        """Real rows a chunk of stars (fine `healpix` in [hp_lo, hp_hi], ra/dec within the union of `boxes`)
        needs in every sky; all rows when the chunk's bounds are unknown. With `sky_rows`: the sky rows it needs
        (RadioRows.arrays_for_sky), else real rows (RadioRows.arrays: every sky of each)."""
        if self.sky_rows:
            if hp_lo is None or hp_hi is None:
                return np.arange((self.radio.n_offsets + 1) * self.n_radio, dtype=np.int64)
            shift = 2 * (HEALPIX_ORDER - self.order)
            return self.rows_for_keys(int(hp_lo) >> shift, int(hp_hi) >> shift)
        if self.radio.n_offsets:
            if not boxes or any(not np.isfinite(v) for box in boxes for v in box):
                return np.arange(self.n_radio, dtype=np.int64)
            margin = self.reach_arcsec + self.offset_arcsec
            return np.unique(np.concatenate([self.rows_in_box(box, margin) for box in boxes]))
        if hp_lo is None or hp_hi is None:
            return np.arange(self.n_radio, dtype=np.int64)
        shift = 2 * (HEALPIX_ORDER - self.order)
        return self.rows_for_keys(int(hp_lo) >> shift, int(hp_hi) >> shift)


def sky_replicas(radio: tuple[np.ndarray, np.ndarray, float, int, int, float], k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(row, join key) replicas of offset sky `k`'s rows (0: the real sky); `radio`: ra, dec, reach (arcsec),
    join order, number of offset skies, offset (arcmin). Module level: a pool's worker runs it."""
    from radiolake.crossmatch.partitioning import radio_replicas

    ra, dec, reach_arcsec, join_order, n_offsets, offset_arcmin = radio
    return radio_replicas(*offset_sky_position(ra, dec, k, n_offsets, offset_arcmin), reach_arcsec, join_order)


def _serial_map(fn: Callable, shared: Any, tasks: list) -> list:
    return [fn(shared, t) for t in tasks]


def _subset(arrays: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in arrays.items()}


def match_star_chunk(
    stars: dict[str, np.ndarray],
    radio: dict[str, np.ndarray],
    kernel: MatchKernel,
    criteria: MatchCriteria,
    radio_epoch_range: tuple[float, float],
    slow_limit_arcsec: float,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pairs of the chunk's slow stars with `radio` (RadioRows.arrays) found by `kernel`, and the indices of
    its fast stars. Result indices: `sky` (sky row) and `star_idx` (row of `stars`)."""
    disp = displacement_arcsec(stars, *radio_epoch_range)
    fast = disp > slow_limit_arcsec
    res = empty_result()
    slow_idx = np.flatnonzero(~fast) if fast.any() else None  # None: every star (no copy)
    slow = stars if slow_idx is None else _subset(stars, slow_idx)
    if slow["ra"].size and radio["ra"].size:
        keyed = {**slow, "key": np.zeros(slow["ra"].size, np.int64)}
        res = kernel.match(radio, keyed, criteria, disp if slow_idx is None else disp[slow_idx])
        if slow_idx is not None:
            res["star_idx"] = slow_idx[res["star_idx"]]
    radio_idx = res.pop("radio_idx")
    res["sky"] = radio["sky"][radio_idx] if radio["ra"].size else np.zeros(0, np.int64)
    res["star_class"] = _pair_classes(stars, res["star_idx"])
    return res, np.flatnonzero(fast)


def _pair_classes(stars: dict[str, np.ndarray], star_idx: np.ndarray) -> np.ndarray:
    """The population class (populations.py) of each pair's star, classified only for the matched ones."""
    return classes_of({k: v[star_idx] for k, v in stars.items() if k in POPULATION_COLUMNS}, star_idx.size)


def split_skies(found: dict[str, np.ndarray], n_radio: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(the real sky's pairs, every column; the offset skies' pairs, `sky`, `separation_arcsec` and the star's
    `star_class` only).

    All the driver needs of an offset-sky pair is which sky row found a star and how near (the false-match
    statistics and the priors): at 100 M x 10 M the 8 offset skies gave ~10 M pairs, and with every column and
    a star id each they overflowed the driver JVM's heap as task results."""
    sky = np.asarray(found["sky"], dtype=np.int64)
    real = sky < n_radio
    classes = np.asarray(found.get("star_class", np.zeros(sky.size, np.int8)), dtype=np.int8)
    if real.all():
        return dict(found), {"sky": np.zeros(0, np.int64), "separation_arcsec": np.zeros(0, np.float64),
                             "star_class": np.zeros(0, np.int8)}
    off = ~real
    return ({k: np.asarray(v)[real] for k, v in found.items()},
            {"sky": sky[off], "separation_arcsec": np.asarray(found["separation_arcsec"], dtype=np.float64)[off],
             "star_class": classes[off]})


def empty_sky_result() -> dict[str, np.ndarray]:
    """No pairs, in the columns of match_star_chunk's result (`sky` and `star_class` instead of `radio_idx`)."""
    out = empty_result()
    out["sky"] = out.pop("radio_idx")
    out["star_class"] = np.zeros(0, np.int8)
    return out


def concat_results(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The pairs of several chunks as one result (no pairs: empty_sky_result)."""
    if not parts:
        return empty_sky_result()
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def match_fast_stars(
    stars: dict[str, np.ndarray], skies: RadioSkies, criteria: MatchCriteria, kernel: MatchKernel
) -> dict[str, np.ndarray]:
    """Pairs of fast-moving stars with any sky row, found by `kernel` (kernels.ConeTreeKernel: each star
    searched within its own reach, search + its own largest displacement, so one fast star never widens
    anyone else's search). Runs on the driver: the fast movers are few."""
    if stars["ra"].size == 0 or skies.n_radio == 0:
        return empty_sky_result()
    disp = displacement_arcsec(stars, *skies.epoch_range)
    every = skies.radio.arrays(np.arange(skies.n_radio))  # all skies, here only: the fast stars are few
    res = kernel.match(every, stars, criteria, disp)
    res["sky"] = every["sky"][res.pop("radio_idx")]
    res["star_class"] = _pair_classes(stars, res["star_idx"])
    return res
