"""Read a cross-match results folder (local or S3) and check it before anything touches the warehouse.

A run is loaded whole or not at all, so every problem is collected first and reported together: a missing
column, a null or NaN key, a NaN or infinite value in any float column, a run_id that disagrees with
run.json, a duplicate key, a pair pointing at a radio source or star that is not in the folder, a value out
of range. The result is a set of Arrow tables
already in the `load.*` column order and types, ready for COPY. `read_checked` hands each table over as soon
as it passed its own checks, so the loader can COPY it while the next one is read and checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cdshealpix.nested as healpix_nested
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from radiolake.config import Settings
from radiolake.warehouse.tables import DERIVED_COLUMNS, LOAD_TABLES, RANGES, LoadTable

#: run.json fields copied into load.runs columns (the whole document is kept as jsonb too).
RUN_COLUMNS = (
    "run_id", "created_utc", "radio_catalog", "star_catalog", "radius_arcsec", "n_sigma", "n_offsets",
    "offset_arcmin", "n_radio", "n_stars", "n_pairs", "n_best", "expected_false_matches",
)


class ResultsValidationError(ValueError):
    """The results folder cannot be loaded; `problems` lists every reason found, each naming table/column."""

    def __init__(self, source_uri: str, problems: list[str], run_id: str | None = None):
        self.source_uri = source_uri
        self.problems = problems
        self.run_id = run_id
        lines = "\n  - ".join(problems)
        super().__init__(f"results at {source_uri} refused, nothing loaded:\n  - {lines}")


@dataclass
class RunResults:
    """A validated run: run.json and one Arrow table per `load.*` table, in table column order."""

    source_uri: str
    run: dict
    tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def run_id(self) -> str:
        return self.run["run_id"]


def resolve(uri: str, settings: Settings | None = None) -> tuple[pafs.FileSystem, str]:
    """(filesystem, base path) for `s3://bucket/prefix` (the lake) or a local folder."""
    if uri.startswith("s3://"):
        from radiolake.lake import arrow_fs  # only needs S3 settings when actually reading S3

        return arrow_fs(settings), uri[len("s3://"):].rstrip("/")
    path = uri[len("file://"):] if uri.startswith("file://") else uri
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(path))


def read_run_json(fs: pafs.FileSystem, base: str) -> dict:
    with fs.open_input_stream(f"{base}/run.json") as f:
        return json.loads(f.read().decode())


def _read_folder(fs: pafs.FileSystem, path: str) -> pa.Table:
    # Spark writes _SUCCESS/.crc beside the parts; pyarrow's default ignore_prefixes skip them.
    dataset = ds.dataset(path, filesystem=fs, format="parquet", partitioning="hive")
    return dataset.to_table()


@dataclass
class ResultsFolder:
    """A results folder whose run.json was read: where its tables are, and the run they belong to."""

    uri: str
    fs: pafs.FileSystem
    base: str
    run: dict


def open_results(uri: str, settings: Settings | None = None) -> ResultsFolder:
    """Read run.json (written last: without it the run is incomplete); raises ResultsValidationError."""
    fs, base = resolve(uri, settings)
    info = fs.get_file_info(f"{base}/run.json")
    if info.type != pafs.FileType.File:
        raise ResultsValidationError(uri, [f"no run.json under {uri}: the run is missing or incomplete"])
    try:
        run = read_run_json(fs, base)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsValidationError(uri, [f"run.json is not valid JSON: {exc}"]) from exc
    return ResultsFolder(uri, fs, base, run)


def _read_table(folder: ResultsFolder, table: LoadTable) -> tuple[pa.Table | None, str | None]:
    """The table's Parquet files as one Arrow table, or None and why they cannot be read."""
    path = f"{folder.base}/{table.name}"
    if folder.fs.get_file_info(path).type != pafs.FileType.Directory:
        return None, f"{table.name}/: folder missing"
    try:
        return _read_folder(folder.fs, path), None
    except (pa.ArrowInvalid, OSError) as exc:
        return None, f"{table.name}/: unreadable Parquet ({exc})"


def read_results(uri: str, settings: Settings | None = None) -> RunResults:
    """Read run.json and the five table folders, then validate; raises ResultsValidationError."""
    return read_checked(open_results(uri, settings))


def read_checked(folder: ResultsFolder,
                 on_table: Callable[[str, pa.Table], None] | None = None) -> RunResults:
    """Read and check the folder's tables one by one on a worker thread, in load order.

    `on_table(name, table)` is called in the caller's thread with each table that passed its own checks,
    as long as no problem has been found so far, while the worker reads and checks the next one: the
    loader COPYs a table meanwhile, so reading, checking and COPY overlap. The cross-table checks
    (references) run last, on the worker. Finding a problem stops the calls, not the checks: every
    problem is still collected and raised at the end (ResultsValidationError, the same problems in the same
    order as `validate` finds on the same tables), and the caller then rolls back what it did with the
    tables it was given.
    """
    run = folder.run
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if not isinstance(run_id, str) or not run_id.strip():
        raise ResultsValidationError(folder.uri, ["run.json: run_id missing or empty"])
    unreadable: list[str] = []  # any of these: the run is refused for them alone, as before checking
    checked: dict[str, pa.Table] = {}

    def read_and_check(table: LoadTable) -> list[str]:
        data, problem = _read_table(folder, table)
        if problem is not None:
            unreadable.append(problem)
        if unreadable:  # refused anyway: reading the other folders only completes the list
            return []
        problems: list[str] = []
        normalised = _normalise(table, data, run_id, problems)
        if normalised is not None:
            checked[table.name] = normalised
        return problems

    def cross_checks() -> list[str]:
        problems: list[str] = []
        if len(checked) == len(LOAD_TABLES):
            _check_references(checked, problems)
        return problems

    problems: list[str] = []
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="radiolake-validate")
    try:
        # One worker runs these in order: each table's job ends before the next starts, references last.
        jobs = [(table, worker.submit(read_and_check, table)) for table in LOAD_TABLES]
        references = worker.submit(cross_checks)
        for table, job in jobs:
            problems.extend(job.result())
            if on_table is not None and not problems and not unreadable and table.name in checked:
                on_table(table.name, checked[table.name])
        if not problems and not unreadable:
            problems.extend(references.result())
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
    if unreadable or problems:
        raise ResultsValidationError(folder.uri, unreadable or problems, run_id)
    return RunResults(source_uri=folder.uri, run=run, tables=checked)


def validate(source_uri: str, run: dict, raw: dict[str, pa.Table]) -> RunResults:
    """Check and normalise in-memory tables (keyed by results folder name); pure, no I/O."""
    problems: list[str] = []
    run_id = run.get("run_id") if isinstance(run, dict) else None
    if not isinstance(run_id, str) or not run_id.strip():
        raise ResultsValidationError(source_uri, ["run.json: run_id missing or empty"])
    out: dict[str, pa.Table] = {}
    present = [t for t in LOAD_TABLES if t.name in raw]
    # Tables are checked side by side (Arrow compute releases the GIL); problems are reported in table
    # order whatever finishes first.
    found: dict[str, list[str]] = {t.name: [] for t in present}
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        futures = {t.name: pool.submit(_normalise, t, raw[t.name], run_id, found[t.name]) for t in present}
    for table in LOAD_TABLES:
        if table.name not in raw:
            problems.append(f"{table.name}/: folder missing")
            continue
        problems.extend(found[table.name])
        normalised = futures[table.name].result()
        if normalised is not None:
            out[table.name] = normalised
    if not problems:
        _check_references(out, problems)
    if problems:
        raise ResultsValidationError(source_uri, problems, run_id)
    return RunResults(source_uri=source_uri, run=run, tables=out)


def _normalise(table: LoadTable, data: pa.Table, run_id: str, problems: list[str]) -> pa.Table | None:
    """Columns in load order and types, or None after appending the problems found."""
    n_before = len(problems)
    present = set(data.column_names)
    file_columns = [c for c in table.column_names if c not in DERIVED_COLUMNS]
    if table.run_id_in_files:
        file_columns = ["run_id", *file_columns]
    must_have = set(file_columns) if table.all_columns_present else set(table.required)
    if table.run_id_in_files:
        must_have.add("run_id")
    missing = sorted(must_have - present)
    if missing:
        problems.append(f"{table.name}: missing column(s) {', '.join(missing)}")
        return None

    types = dict(table.columns)
    arrays: dict[str, pa.Array] = {}
    for name in file_columns:
        if name not in present:
            arrays[name] = pa.nulls(data.num_rows, types[name])
            continue
        try:
            arrays[name] = data.column(name).combine_chunks().cast(types[name])
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            problems.append(f"{table.name}.{name}: type {data.schema.field(name).type} not castable to "
                            f"{types[name]} ({exc})")
    if len(problems) > n_before:
        return None

    for name in sorted(table.required | ({"run_id"} if table.run_id_in_files else set())):
        _check_not_null(table.name, name, arrays[name], problems)
    for name in sorted(set(arrays) - table.required):
        _check_finite(table.name, name, arrays[name], problems)
    for name, arr in arrays.items():
        if name in RANGES:
            _check_range(table.name, name, arr, RANGES[name], problems)
    if table.run_id_in_files and arrays["run_id"].null_count == 0:
        other = pc.unique(pc.filter(arrays["run_id"], pc.not_equal(arrays["run_id"], run_id)))
        if len(other):
            problems.append(f"{table.name}.run_id: {other[0].as_py()!r} differs from run.json run_id "
                            f"{run_id!r}")
    if len(problems) > n_before:
        return None
    if not _keys_unique(arrays, table.key):
        problems.append(f"{table.name}: duplicate key ({', '.join(table.key)}) within the run")
        return None

    if not table.run_id_in_files:
        arrays["run_id"] = pa.repeat(pa.scalar(run_id, pa.string()), data.num_rows)
    if table.name == "offset_stats":
        if not _pixels_valid(arrays["region_order"], arrays["region_pixel"]):
            problems.append("offset_stats: region_order outside 0..29 or region_pixel outside its order")
            return None
        arrays["region_ra"], arrays["region_dec"] = _pixel_centres(arrays["region_order"],
                                                                   arrays["region_pixel"])
    return pa.table({name: arrays[name] for name in table.column_names})


def _check_not_null(table: str, name: str, arr: pa.Array, problems: list[str]) -> None:
    n_null = arr.null_count
    n_nan = n_inf = 0
    if pa.types.is_floating(arr.type):
        n_nan = pc.sum(pc.is_nan(arr)).as_py() or 0
        # ±inf passes every range check without an upper (or lower) bound, so refuse it like NaN.
        n_inf = pc.sum(pc.is_inf(arr)).as_py() or 0
    if n_null or n_nan or n_inf:
        parts = ([f"{n_null} null"] * bool(n_null) + [f"{n_nan} NaN"] * bool(n_nan)
                 + [f"{n_inf} infinite"] * bool(n_inf))
        what = " and ".join(parts)
        problems.append(f"{table}.{name}: {what} value(s) in a required column")


def _check_finite(table: str, name: str, arr: pa.Array, problems: list[str]) -> None:
    """NaN and infinities are refused in every float column, optional ones too: Postgres sorts NaN above
    every number, so a NaN parallax would pass `parallax_snr >= 5` and reach grade A. Missing is null."""
    if not pa.types.is_floating(arr.type) or len(arr) == arr.null_count:
        return
    n_nan = pc.sum(pc.is_nan(arr)).as_py() or 0
    n_inf = pc.sum(pc.is_inf(arr)).as_py() or 0
    if n_nan or n_inf:
        what = " and ".join([f"{n_nan} NaN"] * bool(n_nan) + [f"{n_inf} infinite"] * bool(n_inf))
        problems.append(f"{table}.{name}: {what} value(s); write null for a missing value")


def _check_range(table: str, name: str, arr: pa.Array, bounds: tuple, problems: list[str]) -> None:
    lo, hi = bounds
    if len(arr) == 0 or arr.null_count == len(arr):
        return
    # NaN compares false with every bound: _check_not_null and _check_finite refuse it (and ±inf) first.
    bad = pa.array(np.zeros(len(arr), dtype=bool))
    if lo is not None:
        bad = pc.or_(bad, pc.less(arr, lo))
    if hi is not None:
        # ra is [0, 360): the upper bound is exclusive there, inclusive elsewhere.
        bad = pc.or_(bad, pc.greater_equal(arr, hi) if name == "ra" else pc.greater(arr, hi))
    n_bad = pc.sum(pc.fill_null(bad, False)).as_py() or 0
    if n_bad:
        problems.append(f"{table}.{name}: {n_bad} value(s) outside [{lo}, {hi}]")


def _keys_unique(arrays: dict[str, pa.Array], key: tuple[str, ...]) -> bool:
    keys = pa.table({k: arrays[k] for k in key})
    if keys.num_rows == 0:
        return True
    if len(key) == 1:
        return pc.count_distinct(keys.column(0)).as_py() == keys.num_rows
    return keys.group_by(list(key)).aggregate([]).num_rows == keys.num_rows


def _check_references(tables: dict[str, pa.Table], problems: list[str]) -> None:
    """Every pair and best match must point at a radio source and a star shipped in the same folder."""
    found: dict[tuple[str, str], pa.ChunkedArray] = {}
    n_pairs = tables["pairs"].num_rows
    for column, parent in (("radio_id", "radio_sources"), ("star_id", "stars")):
        # pairs' and best's ids probed together: the parent's id set is hashed once, not once per child.
        probes = pa.chunked_array(tables["pairs"].column(column).chunks + tables["best"].column(column).chunks,
                                  type=pa.string())
        known = pc.is_in(probes, value_set=tables[parent].column("source_id").combine_chunks())
        found["pairs", column], found["best", column] = known.slice(0, n_pairs), known.slice(n_pairs)
    for child in ("pairs", "best"):
        for column, parent in (("radio_id", "radio_sources"), ("star_id", "stars")):
            orphans = pc.filter(tables[child].column(column), pc.invert(found[child, column]))
            if len(orphans):
                problems.append(f"{child}.{column}: {len(orphans)} id(s) not in {parent}/ "
                                f"(e.g. {orphans[0].as_py()!r})")
    best_pairs = pc.is_in(tables["best"].column("radio_id"),
                          value_set=tables["pairs"].column("radio_id").combine_chunks())
    n_missing = len(best_pairs) - (pc.sum(best_pairs).as_py() or 0)
    if n_missing:
        problems.append(f"best.radio_id: {n_missing} best match(es) without any row in pairs/")


def _pixels_valid(order: pa.Array, pixel: pa.Array) -> bool:
    orders = order.to_numpy(zero_copy_only=False).astype(np.int64)
    pixels = pixel.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(orders) == 0:
        return True
    if orders.min() < 0 or orders.max() > 29:
        return False
    return bool(np.all((pixels >= 0) & (pixels < 12 * 4 ** orders)))


def _pixel_centres(order: pa.Array, pixel: pa.Array) -> tuple[pa.Array, pa.Array]:
    """ICRS centre (deg) of each nested HEALPix region pixel, for maps of the sky summary."""
    ra = np.empty(len(order))
    dec = np.empty(len(order))
    orders = order.to_numpy(zero_copy_only=False)
    pixels = pixel.to_numpy(zero_copy_only=False).astype(np.uint64)
    for depth in np.unique(orders):
        sel = orders == depth
        lon, lat = healpix_nested.healpix_to_lonlat(pixels[sel], int(depth))
        ra[sel] = lon.to_value("deg")
        dec[sel] = lat.to_value("deg")
    return pa.array(ra), pa.array(dec)
