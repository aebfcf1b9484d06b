"""Normalize: map a survey's raw rows onto the canonical schema and validate every row.

Each row either comes out canonical (units converted, ra wrapped into [0, 360), HEALPix index added) or goes
to the quarantine with every reason it failed, its position in the source and its raw values as JSON.
Nothing is dropped silently: `good + quarantined == read`, and the reasons are counted for the metadata.

Row checks: numbers that parse, finite ra/dec, dec within [-90, 90], errors >= 0, a plausible epoch, a
non-empty id that is unique across the whole ingest (not only within a batch).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field

import astropy.units as u
import cdshealpix.nested as hp
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from astropy.coordinates import Latitude, Longitude
from astropy.time import Time

from radiolake.schema import CANONICAL_COLUMNS, CANONICAL_SCHEMA, HEALPIX_ORDER, STANDARD_EXTRA_FIELDS
from radiolake.surveys import PositionErrorRule, SurveyDefinition
from radiolake.surveys.positional_errors import add_floor, axis_errors, ellipse_from_shape, ellipse_from_snr

#: Epochs outside this range (Julian years) are taken as a unit or parsing mistake.
PLAUSIBLE_EPOCH = (1850.0, 2100.0)
ERROR_COLUMNS = (
    "ra_error", "dec_error", "parallax_error", "flux_error_mjy", "flux_v_error_mjy", "pos_err_major", "pos_err_minor",
)
ELLIPSE_COLUMNS = ("pos_err_major", "pos_err_minor", "pos_err_pa")
EXTRA_NAMES = [f.name for f in STANDARD_EXTRA_FIELDS]
NULL_STRINGS = {"", "nan", "NaN", "NAN", "null", "NULL", "None", "--"}

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("survey", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # file or page the row came from
        pa.field("row_index", pa.int64(), nullable=False),  # 0-based row in that source; -1: the whole file
        pa.field("reason", pa.string(), nullable=False),  # ';'-joined reason codes
        pa.field("raw_json", pa.string()),  # the row's raw values
    ]
)


class MissingColumnError(ValueError):
    """The source lacks a column the survey definition maps: the whole file is quarantined."""

    reason = "missing_column"


def keep_output_name(name: str) -> str:
    """Survey column name as stored: lower case, SQL-friendly ("B-V" → "b_v")."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def output_schema(definition: SurveyDefinition, raw_schema: pa.Schema | None = None) -> pa.Schema:
    """Canonical columns, then the standard extras the survey maps, then its kept columns."""
    fields = list(CANONICAL_SCHEMA)
    derived = set(ELLIPSE_COLUMNS) if definition.positions.shape_columns else set()
    derived |= {"epoch_span_years"} if definition.epoch.span is not None else set()
    fields += [f for f in STANDARD_EXTRA_FIELDS if f.name in definition.columns or f.name in derived]
    for name in definition.keep:
        if name in definition.keep_units:
            typ = pa.float64()
        elif raw_schema is not None and name in raw_schema.names:
            typ = raw_schema.field(name).type
        else:
            typ = pa.string()
        fields.append(pa.field(keep_output_name(name), typ))
    return pa.schema(fields)


class IdTracker:
    """Remembers every id seen in an ingest as a sorted array of 64-bit hashes (8 bytes an id, so 10 M ids
    cost 80 MB, not the GBs of a Python set). A hash collision (p ~ n^2 / 2^65) would quarantine one row
    as a duplicate: visible, never silent."""

    def __init__(self) -> None:
        self._seen = np.empty(0, np.uint64)

    def seen_before(self, ids: np.ndarray) -> np.ndarray:
        hashes = pd.util.hash_array(ids.astype(object), categorize=False)
        pos = np.searchsorted(self._seen, hashes)
        pos_clipped = np.minimum(pos, max(len(self._seen) - 1, 0))
        found = (self._seen[pos_clipped] == hashes) if len(self._seen) else np.zeros(len(ids), bool)
        self._pending = hashes
        return found

    def add(self, ids_mask: np.ndarray) -> None:
        """Remember the hashes of the last `seen_before` call where `ids_mask` is True."""
        new = np.unique(self._pending[ids_mask])
        self._seen = np.union1d(self._seen, new) if len(self._seen) else new


@dataclass
class NormalizeStats:
    rows_read: int = 0
    rows_good: int = 0
    rows_quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    epoch_min: float = np.inf
    epoch_max: float = -np.inf

    @property
    def bad_fraction(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_good": self.rows_good,
            "rows_quarantined": self.rows_quarantined,
            "bad_fraction": self.bad_fraction,
            "reasons": dict(sorted(self.reasons.items())),
            "epoch_min": None if self.rows_good == 0 else self.epoch_min,
            "epoch_max": None if self.rows_good == 0 else self.epoch_max,
        }


def _to_float(arr: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 with NaN for null, mask of values present but not numbers)."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        strings = pd.Series(arr.to_numpy(zero_copy_only=False), dtype=object)
        stripped = strings.str.strip()
        values = pd.to_numeric(stripped, errors="coerce").to_numpy(float)
        present = stripped.notna() & ~stripped.isin(NULL_STRINGS)
        return values, (present.to_numpy() & np.isnan(values))
    if pa.types.is_boolean(arr.type):
        arr = pc.cast(arr, pa.int8())
    values = pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, float), np.zeros(len(values), bool)


def _ids_to_strings(arr: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Ids as trimmed strings (nulls kept); integral ids read as floats become "1234", not "1234.0"."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_floating(arr.type):
        vals = arr.to_numpy(zero_copy_only=False)
        return pa.array(
            [None if np.isnan(v) else (str(int(v)) if float(v).is_integer() else repr(v)) for v in vals],
            pa.string(),
        )
    return pc.utf8_trim_whitespace(pc.cast(arr, pa.string()))


def iau_names(ra: np.ndarray, dec: np.ndarray) -> pa.Array:
    """IAU-style names JHHMMSS.ss+DDMMSS.s from positions in degrees; null where a position is not finite.

    Digits are truncated, never rounded (the IAU convention: a name never points to the next cell), at
    0.01 s of RA and 0.1" of Dec, fine enough that two sources of a radio catalogue never share a name
    (two that did would be quarantined as duplicate_id, never merged)."""
    ok = np.isfinite(ra) & np.isfinite(dec) & (np.abs(np.nan_to_num(dec)) <= 90)
    # round(, 6) before the floor only absorbs float noise (10.5 deg is 42 m 00 s, not 41 m 59.99 s).
    ra_cs = np.floor(np.round(np.where(ok, np.mod(ra, 360.0), 0.0) / 15.0 * 360000.0, 6)).astype(np.int64)
    ra_cs = np.minimum(ra_cs, 24 * 360000 - 1)  # 359.9999999... must not round up to 24h
    dec_ds = np.floor(np.round(np.abs(np.where(ok, dec, 0.0)) * 36000.0, 6)).astype(np.int64)  # 0.1"
    names = [
        f"J{r // 360000:02d}{r // 6000 % 60:02d}{r // 100 % 60:02d}.{r % 100:02d}"
        f"{'-' if d_neg else '+'}{d // 36000:02d}{d // 600 % 60:02d}{d // 10 % 60:02d}.{d % 10:d}"
        if good else None
        for r, d, d_neg, good in zip(ra_cs.tolist(), dec_ds.tolist(), (dec < 0).tolist(), ok.tolist(),
                                     strict=True)
    ]
    return pa.array(names, pa.string())


def _epochs(definition: SurveyDefinition, raw: pa.Table, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(Julian-year epoch per row, mask of values that did not parse)."""
    rule = definition.epoch
    if rule.fixed is not None:
        return np.full(n, rule.fixed), np.zeros(n, bool)
    col = raw.column(rule.column)
    if rule.format == "isot":
        strings = col.to_numpy(zero_copy_only=False)
        out, bad = np.full(n, np.nan), np.zeros(n, bool)
        for i, s in enumerate(strings):
            if s is None or str(s).strip() in NULL_STRINGS:
                continue
            try:
                out[i] = Time(str(s).strip(), format="isot", scale="utc").jyear
            except ValueError:
                bad[i] = True
        return out, bad
    values, bad = _to_float(col)
    if rule.format in ("mjd", "jd"):
        ok = np.isfinite(values)
        out = np.full(n, np.nan)
        if ok.any():
            out[ok] = Time(values[ok], format=rule.format, scale="tt").jyear
        return out, bad
    if rule.format == "decimalyear":
        ok = np.isfinite(values)
        out = np.full(n, np.nan)
        if ok.any():
            out[ok] = Time(values[ok], format="decimalyear").jyear
        return out, bad
    return values, bad


def apply_position_rule(rule: PositionErrorRule, raw: pa.Table, cols: dict[str, np.ndarray]) -> None:
    """Error ellipse from the component shape, then the systematic floor in quadrature (in place on `cols`).

    The ellipse is sized by the quoted errors before the floor; the floor is isotropic, so adding it to the
    ellipse axes is the same as adding it to the covariance."""
    if rule.shape_columns:
        major, minor, pa_deg = (_to_float(raw.column(c))[0] for c in rule.shape_columns)
        n = len(major)
        if rule.shape_limit_columns:  # an upper limit ('<') on a deconvolved axis: unresolved along it
            major, minor = major.copy(), minor.copy()
            for axis, flag_col in zip((major, minor), rule.shape_limit_columns, strict=True):
                flags = pc.fill_null(pc.cast(raw.column(flag_col), pa.string()), "").to_numpy(zero_copy_only=False)
                axis[np.char.find(flags.astype(str), "<") >= 0] = 0.0
        if rule.shape_beam_arcsec is not None:  # deconvolved -> fitted axes: the errors scale with these
            major = np.hypot(np.nan_to_num(major), rule.shape_beam_arcsec)
            minor = np.hypot(np.nan_to_num(minor), rule.shape_beam_arcsec)
            pa_deg = np.where(np.isnan(pa_deg) & (major == minor), 0.0, pa_deg)  # round: any angle is right
        if rule.snr_errors is not None:  # no quoted errors: the survey's formula gives them (FIRST)
            f = rule.snr_errors
            peak, rms = (_to_float(raw.column(c))[0] for c in (f.peak, f.rms))
            ellipse = ellipse_from_snr(major, minor, pa_deg, peak, rms, f.peak_bias, f.systematic_fraction,
                                       f.confidence_sigma)
            cols["ra_error"], cols["dec_error"] = axis_errors(*ellipse)
        else:
            ellipse = ellipse_from_shape(cols.get("ra_error", np.full(n, np.nan)),
                                         cols.get("dec_error", np.full(n, np.nan)), major, minor, pa_deg)
        cols["pos_err_major"], cols["pos_err_minor"], cols["pos_err_pa"] = ellipse
    if rule.floor_arcsec == 0 and not rule.floor_values:
        return
    n = len(cols["ra"])
    floor = np.full(n, rule.floor_arcsec)
    if rule.floor_by:
        keys = pd.Series(raw.column(rule.floor_by).to_numpy(zero_copy_only=False), dtype=object).astype(str)
        floor = keys.map(rule.floor_values).fillna(rule.floor_arcsec).to_numpy(np.float64)
    for name in ("ra_error", "dec_error", "pos_err_major", "pos_err_minor"):
        if name in cols or name in ("ra_error", "dec_error"):
            cols[name] = add_floor(cols.get(name, np.full(n, np.nan)), floor)


class _Flags:
    """Why rows are rejected: (reason, rows it applies to) pairs, vectorised, no per-row Python."""

    def __init__(self) -> None:
        self.items: list[tuple[str, np.ndarray]] = []

    def __call__(self, mask: np.ndarray, reason: str) -> None:
        mask = np.asarray(mask, bool)
        if mask.any():
            self.items.append((reason, mask))

    def bad(self, n: int) -> np.ndarray:
        out = np.zeros(n, bool)
        for _, mask in self.items:
            out |= mask
        return out

    def reasons_of(self, row: int) -> str:
        return ";".join(dict.fromkeys(r for r, m in self.items if m[row]))


def normalize_batch(
    definition: SurveyDefinition,
    raw: pa.Table,
    *,
    source: str,
    row_offset: int,
    ids: IdTracker,
    stats: NormalizeStats,
    schema: pa.Schema | None = None,
) -> tuple[pa.Table, pa.Table]:
    """Split one raw batch into (canonical good rows, quarantine rows); update `stats` and `ids`."""
    _check_columns(definition, raw, source)
    schema = schema or output_schema(definition, raw.schema)
    flag = _Flags()
    cols = _measured_columns(definition, raw, flag)
    apply_position_rule(definition.positions, raw, cols)
    cols["epoch"] = _epoch_column(definition, raw, flag)
    if definition.epoch.span is not None and "epoch_span_years" not in cols:
        cols["epoch_span_years"] = np.full(raw.num_rows, definition.epoch.span_years)
    full_ids = _source_ids(definition, raw, cols, row_offset, ids, flag)
    kept = _kept_columns(definition, raw, flag)
    bad = _count(stats, ids, flag, cols["epoch"], raw.num_rows)
    good_table = _good_table(schema, np.flatnonzero(~bad), cols, kept, full_ids)
    return good_table, _quarantine_table(definition, raw, source, row_offset, bad, flag)


def _check_columns(definition: SurveyDefinition, raw: pa.Table, source: str) -> None:
    """MissingColumnError naming every column the definition maps that the file lacks (and the fix for ids)."""
    missing = [c.source for c in definition.columns.values() if c.source and c.source not in raw.column_names]
    if definition.epoch.column and definition.epoch.column not in raw.column_names:
        missing.append(definition.epoch.column)
    missing += [k for k in definition.keep if k not in raw.column_names]
    missing += [k for k in definition.positions.columns if k not in raw.column_names]
    if not missing:
        return
    id_hint = ""
    if definition.columns["source_id"].source in missing:
        id_hint = ("; a catalogue without an id column can have one made: in the survey YAML, "
                   "source_id: {generate: iau_name} (or row_number)")
    raise MissingColumnError(
        f"{source}: column(s) {', '.join(sorted(set(missing)))} required by survey "
        f"{definition.name!r} are missing (have: {', '.join(raw.column_names)}){id_hint}"
    )


def _measured_columns(definition: SurveyDefinition, raw: pa.Table, flag: _Flags) -> dict[str, np.ndarray]:
    """The mapped numeric columns in canonical units; ra wrapped, ra/dec and the errors checked."""
    n = raw.num_rows
    cols: dict[str, np.ndarray] = {}
    for out, cm in definition.columns.items():
        if out == "source_id":
            continue
        if cm.source is None:
            cols[out] = np.full(n, float(cm.value))
            continue
        values, unparsable = _to_float(raw.column(cm.source))
        flag(unparsable, f"not_a_number:{cm.source}")
        for sentinel in cm.null_if:
            values = np.where(values == sentinel, np.nan, values)  # arrow-backed arrays are read-only
        cols[out] = values * cm.factor()
    # ra/dec are required; wrap ra, then check.
    ra, dec = cols["ra"], cols["dec"]
    flag(~np.isfinite(ra), "ra_not_finite")
    flag(~np.isfinite(dec), "dec_not_finite")
    with np.errstate(invalid="ignore"):
        flag(np.isfinite(dec) & (np.abs(dec) > 90), "dec_out_of_range")
        ra = np.mod(ra, 360.0)
        ra[ra >= 360.0] = 0.0  # -1e-17 % 360 rounds to 360
        cols["ra"] = ra
        if "ra_error" in cols and definition.columns["ra_error"].times_cos_dec:
            cols["ra_error"] = cols["ra_error"] * np.cos(np.radians(dec))
        for name in ERROR_COLUMNS:
            if name in cols:
                flag(cols[name] < 0, f"negative_error:{name}")
    return cols


def _epoch_column(definition: SurveyDefinition, raw: pa.Table, flag: _Flags) -> np.ndarray:
    """Julian-year epochs; a value that is no date, or an implausible one, rejects its row."""
    epoch, epoch_bad = _epochs(definition, raw, raw.num_rows)
    flag(epoch_bad, "epoch_not_a_date")
    with np.errstate(invalid="ignore"):
        flag(
            ~epoch_bad & ~((epoch >= PLAUSIBLE_EPOCH[0]) & (epoch <= PLAUSIBLE_EPOCH[1])), "implausible_epoch"
        )
    return epoch


def _source_ids(definition: SurveyDefinition, raw: pa.Table, cols: dict[str, np.ndarray], row_offset: int,
                ids: IdTracker, flag: _Flags) -> pa.Array:
    """Survey-prefixed ids: non-empty, unique within the batch and across the ingest (else rejected)."""
    n = raw.num_rows
    id_map = definition.columns["source_id"]
    if id_map.generate == "iau_name":
        raw_ids = iau_names(cols["ra"], cols["dec"])
    elif id_map.generate == "row_number":
        raw_ids = pa.array((np.arange(n) + row_offset).astype(str), pa.string())
    else:
        raw_ids = _ids_to_strings(raw.column(id_map.source))
    empty = np.asarray(pc.fill_null(pc.equal(raw_ids, ""), True).to_numpy(zero_copy_only=False), bool)
    flag(empty, "missing_id")
    full_arr = pc.binary_join_element_wise(pa.scalar(f"{definition.id_prefix}:"), raw_ids, "")
    full_ids = np.asarray(full_arr.to_numpy(zero_copy_only=False), dtype=object)
    dup_in_batch = pd.Series(full_ids).duplicated(keep="first").to_numpy() & ~empty
    dup_earlier = ids.seen_before(full_ids) & ~empty
    flag(dup_in_batch | dup_earlier, "duplicate_id")
    return full_arr


def _kept_columns(definition: SurveyDefinition, raw: pa.Table, flag: _Flags) -> dict[str, np.ndarray | pa.Array]:
    """The survey's extra columns kept as they are (numbers with a unit parsed and checked)."""
    kept: dict[str, np.ndarray | pa.Array] = {}
    for name in definition.keep:
        if name in definition.keep_units:
            values, unparsable = _to_float(raw.column(name))
            flag(unparsable, f"not_a_number:{name}")
            kept[keep_output_name(name)] = values
        else:
            kept[keep_output_name(name)] = raw.column(name)
    return kept


def _count(stats: NormalizeStats, ids: IdTracker, flag: _Flags, epoch: np.ndarray, n: int) -> np.ndarray:
    """The rejected rows; counts them per reason in `stats` and keeps the good rows' ids as seen."""
    bad = flag.bad(n)
    for reason, mask in flag.items:
        stats.reasons[reason] += int(mask.sum())
    good = ~bad
    ids.add(good)  # a quarantined row's id stays free for a later clean row with that id
    stats.rows_read += n
    stats.rows_good += int(good.sum())
    stats.rows_quarantined += int(bad.sum())
    if good.any():
        stats.epoch_min = min(stats.epoch_min, float(np.nanmin(epoch[good])))
        stats.epoch_max = max(stats.epoch_max, float(np.nanmax(epoch[good])))
    return bad


def _good_table(schema: pa.Schema, idx: np.ndarray, cols: dict[str, np.ndarray],
                kept: dict[str, np.ndarray | pa.Array], full_ids: pa.Array) -> pa.Table:
    """The good rows (`idx`) in the output schema, with their HEALPix pixel."""
    healpix = hp.lonlat_to_healpix(
        Longitude(cols["ra"][idx] * u.deg), Latitude(cols["dec"][idx] * u.deg), HEALPIX_ORDER
    ).astype(np.int64)
    arrays = []
    for f in schema:
        if f.name == "source_id":
            arrays.append(full_ids.take(pa.array(idx)))
        elif f.name == "healpix":
            arrays.append(pa.array(healpix, pa.int64()))
        elif f.name in cols:
            v = cols[f.name][idx]
            arrays.append(pa.array(v, pa.float64(), mask=np.isnan(v)))
        elif f.name in kept:
            k = kept[f.name]
            if isinstance(k, np.ndarray):
                v = k[idx]
                arrays.append(pa.array(v, pa.float64(), mask=np.isnan(v)))
            else:
                arrays.append(pc.cast(k.take(pa.array(idx)), f.type))
        elif f.name in CANONICAL_COLUMNS or f.name in EXTRA_NAMES:
            arrays.append(pa.nulls(len(idx), f.type))
        else:
            raise AssertionError(f"no values for output column {f.name}")
    return pa.Table.from_arrays(arrays, schema=schema)


def _quarantine_table(definition: SurveyDefinition, raw: pa.Table, source: str, row_offset: int,
                      bad: np.ndarray, flag: _Flags) -> pa.Table:
    """The rejected rows as they were read (JSON), with where they came from and every reason."""
    bad_idx = np.flatnonzero(bad)
    raw_rows = raw.take(pa.array(bad_idx)).to_pylist() if len(bad_idx) else []
    return pa.Table.from_pydict(
        {
            "survey": [definition.name] * len(bad_idx),
            "source": [source] * len(bad_idx),
            "row_index": (bad_idx + row_offset).astype(np.int64),
            "reason": [flag.reasons_of(i) for i in bad_idx],
            "raw_json": [json.dumps(r, default=str) for r in raw_rows],
        },
        schema=QUARANTINE_SCHEMA,
    )


def file_quarantine_row(definition: SurveyDefinition, source: str, reason: str, message: str) -> pa.Table:
    """One quarantine record for a whole unreadable file (row_index -1); the raw file stays in raw."""
    return pa.Table.from_pydict(
        {
            "survey": [definition.name],
            "source": [source],
            "row_index": [-1],
            "reason": [reason],
            "raw_json": [json.dumps({"error": message})],
        },
        schema=QUARANTINE_SCHEMA,
    )
