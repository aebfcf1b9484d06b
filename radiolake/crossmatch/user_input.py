"""A user's own Parquet as cross-match input: whatever pandas, polars or another Arrow writer produced.

The engine reads catalogues in the canonical schema (radiolake/schema.py): `source_id` as string, float64
positions and epoch, and for stars a `healpix` column (the star files are planned and chunked by it). Lake
catalogues are written that way by ingest. A user's file is often not: pandas 3 writes its strings as
`large_string`, polars as `string_view`, writers may dictionary-encode strings, ids are integers (nullable
ones too), positions float32, and `healpix` is usually absent.

`prepare_input` looks at the file footers only; a file already in the canonical types (and, for stars, in
row groups that are small and healpix-ordered, as a lake catalogue's) is read as is. Any other is rewritten
once into a canonical Parquet (ids as strings, numbers as float64, strings as plain `string`, `healpix`
computed with cdshealpix, the stars sorted by it into row groups of their own) that the run reads instead,
kept in the input cache (input_cache.py) so the next run over the same files reads the copy at once: a star
file in no particular order would otherwise give every task every radio row, and one 1 M-row row group one
task. A file that cannot work raises `InputError` with one line that says what to change.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from radiolake.crossmatch import input_cache
from radiolake.crossmatch.io import catalogue_files
from radiolake.crossmatch.pairs import ELLIPSE_COLUMNS, SPAN_COLUMN
from radiolake.crossmatch.star_chunks import filesystem
from radiolake.crossmatch.star_task import STAR_MATCH_COLUMNS
from radiolake.schema import HEALPIX_ORDER

#: Columns the engine reads as float64 (positions, epoch, errors, motions); other columns ride along as they are.
FLOAT_COLUMNS = ("ra", "dec", "epoch", "ra_error", "dec_error", *ELLIPSE_COLUMNS, SPAN_COLUMN,
                 *STAR_MATCH_COLUMNS)
#: What each required column is, for the message when it is missing.
REQUIRED = {"source_id": "its id column (string or integer ids)",
            "ra": "its right ascension column (degrees, ICRS)",
            "dec": "its declination column (degrees, ICRS)"}
#: Columns the run adds to its output rows (the catalogue's name; the quarantine reason): a file's own column
#: of that name keeps its values under NAME_in_file.
RESERVED = ("survey", "reason")
#: Rows per row group of a rewritten star file (as ingest writes them: the engine plans by row group).
ROW_GROUP_ROWS = 128_000
#: Rows per file of a sorted star copy.
PART_ROWS = 1_000_000
#: The largest row group a star file is read in place with (a row group is one task: one core; pyarrow's
#: and pandas' default of 1 Mi rows is above it).
MAX_GROUP_ROWS = 512_000
#: A star input whose row groups' healpix spans sum to more than this many times the sky they cover
#: together (rows in no particular order: every row group spans it all) is sorted first.
OVERLAP_LIMIT = 2.0

log = logging.getLogger(__name__)


class InputError(ValueError):
    """A user's catalogue cannot be cross-matched as it is; the message says what to change."""


def prepare_input(location: str, kind: str, *, epoch: float | None = None, workdir: Path | None = None) -> str:
    """`location` itself when its Parquet is canonical and (stars) planned as well as a lake catalogue, else a
    canonical copy: from the input cache (input_cache.py: the copy a run already made of the same files),
    or written now (into the cache; under `workdir` when the cache is off).

    `kind` is "radio" or "stars" (stars also need `healpix`, computed when absent, and are sorted by it into
    row groups of their own). `epoch` (Julian year) fills a missing `epoch` column; without it a missing
    epoch is an InputError."""
    files, _, s3 = catalogue_files(location)
    fs = filesystem(s3)
    name = location.rstrip("/").rsplit("/", 1)[-1]
    schemas = []
    for path in files:
        with fs.open_input_file(path) as f:
            schemas.append(pq.ParquetFile(f).schema_arrow)
    problems = [p for schema in schemas for p in _problems(schema, kind, name, epoch)]
    if kind == "stars" and not problems and not all(_healpix_matches(fs, path) for path in files):
        problems.append("healpix of another order or scheme")  # recomputed by canonical_table
    if not problems and (kind != "stars" or healpix_ordered(fs, files)):
        return location
    root = input_cache.cache_root()
    key = input_cache.input_key(fs, files, kind, epoch) if root is not None else ""
    if root is not None and (hit := input_cache.cached(root, key)) is not None:
        log.info("%s input %s: the sorted canonical copy of an earlier run (%s)", kind, location, hit)
        return str(hit / _copy_name(name, kind))
    tmp = input_cache.new_entry(root, key) if root is not None else \
        Path(tempfile.mkdtemp(prefix=f"radiolake-{kind}-", dir=workdir))
    out = (tmp / "data" if root is not None else tmp) / _copy_name(name, kind)
    tables = []
    for path in files:
        with fs.open_input_file(path) as f:
            table = pq.read_table(f)
        tables.append(canonical_table(table, kind, name, epoch) if problems else table)
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    del tables
    if kind == "stars":
        write_sorted(table, out)
    else:
        pq.write_table(table, out, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    del table
    if root is None:
        return str(out)
    return str(input_cache.commit(root, key, tmp) / _copy_name(name, kind))


def _copy_name(name: str, kind: str) -> str:
    """The copy's name: the input's (the run's default catalogue name); stars a folder of parts, radio a file."""
    stem = name.removesuffix(".parquet") or "input"
    return stem if kind == "stars" else f"{stem}.parquet"


def healpix_ordered(fs, files: list[str]) -> bool:
    """Can the star files be planned as a lake catalogue is, from their footers alone? Their row groups'
    `healpix` ranges must barely overlap (each chunk then needs only the radio rows of its own sky), and no
    row group may hold more than MAX_GROUP_ROWS rows (a row group is read by one task: one core)."""
    from radiolake.crossmatch.star_chunks import row_groups

    groups = [g for path in files for g in row_groups(fs, path)[1] if g.n_rows]
    if not groups:
        return True
    if any(g.hp_min is None or g.n_rows > MAX_GROUP_ROWS for g in groups):
        return False
    span = sum(g.hp_max - g.hp_min + 1 for g in groups)
    union = max(g.hp_max for g in groups) - min(g.hp_min for g in groups) + 1
    return span <= OVERLAP_LIMIT * union


def write_sorted(table: pa.Table, folder: Path) -> None:
    """The stars sorted by `healpix` (rows without one last: the run quarantines them) as Parquet parts of
    up to PART_ROWS rows in row groups of ROW_GROUP_ROWS, written by one thread per core (Arrow's take and
    Parquet encoding release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    order = pc.sort_indices(table.column("healpix"))  # nulls last
    n = table.num_rows
    n_parts = max(1, math.ceil(n / PART_ROWS), min(os.cpu_count() or 1, math.ceil(n / ROW_GROUP_ROWS)))
    bounds = np.linspace(0, n, n_parts + 1).astype(np.int64)
    folder.mkdir(parents=True)

    def part(i: int) -> None:
        rows = table.take(order.slice(bounds[i], bounds[i + 1] - bounds[i]))
        pq.write_table(rows, folder / f"part-{i:05d}.parquet", row_group_size=ROW_GROUP_ROWS, compression="zstd")

    with ThreadPoolExecutor(min(os.cpu_count() or 1, n_parts)) as pool:
        list(pool.map(part, range(n_parts)))


def canonical_table(table: pa.Table, kind: str, name: str = "input", epoch: float | None = None) -> pa.Table:
    """`table` with canonical types: string ids, float64 numbers, plain strings, and (stars) `healpix`."""
    table = _rename_case(table)
    for column, what in REQUIRED.items():
        if column not in table.column_names:
            raise InputError(f"{kind} file {name} has no {column!r} column (it has: {_names(table)}): "
                             f"rename {what} to {column}")
    if "epoch" not in table.column_names:
        if epoch is None:
            raise InputError(_no_epoch(kind, name))
        table = table.append_column("epoch", pa.repeat(pa.scalar(float(epoch), pa.float64()), table.num_rows))
    columns, fields = [], []
    for field, column in zip(table.schema, table.columns, strict=True):
        column = _plain(column)
        if field.name == "source_id":
            column = _ids(column, kind, name)
        elif field.name in FLOAT_COLUMNS:
            column = _floats(column, field.name, kind, name)
        elif field.name == "healpix" and kind == "stars":
            continue  # recomputed below from ra/dec, so it is at the engine's order whatever the file used
        columns.append(column)
        fields.append(pa.field(f"{field.name}_in_file" if field.name in RESERVED else field.name, column.type))
    out = pa.Table.from_arrays(columns, schema=pa.schema(fields))
    if kind == "stars":
        out = out.append_column("healpix", healpix_column(out.column("ra"), out.column("dec")))
    return out


def healpix_column(ra: pa.ChunkedArray, dec: pa.ChunkedArray) -> pa.Array:
    """Nested HEALPix index at the canonical order (cdshealpix); null where the position is unusable (such
    rows are quarantined by the run with their reason)."""
    from radiolake.crossmatch.partitioning import home_pixels

    ra_np = ra.to_numpy(zero_copy_only=False).astype(np.float64)
    dec_np = dec.to_numpy(zero_copy_only=False).astype(np.float64)
    with np.errstate(invalid="ignore"):
        good = np.isfinite(ra_np) & np.isfinite(dec_np) & (ra_np >= 0) & (ra_np < 360) & (np.abs(dec_np) <= 90)
    pix = np.zeros(ra_np.size, np.int64)
    pix[good] = home_pixels(ra_np[good], dec_np[good], HEALPIX_ORDER)
    return pa.array(pix, pa.int64(), mask=~good)


def _healpix_matches(fs, path: str, sample_rows: int = 256) -> bool:
    """Is the file's `healpix` the engine's (nested, order HEALPIX_ORDER)? Checked on its first rows: a column
    at another order or scheme would silently lose matches."""
    with fs.open_input_file(path) as f:
        pf = pq.ParquetFile(f)
        if pf.metadata.num_row_groups == 0:
            return True
        head = pf.read_row_group(0, columns=["ra", "dec", "healpix"]).slice(0, sample_rows)
    expected = healpix_column(head.column("ra"), head.column("dec"))
    return bool(pc.all(pc.equal(expected, head.column("healpix").combine_chunks())).as_py() is not False)


def _problems(schema: pa.Schema, kind: str, name: str, epoch: float | None) -> list[str]:
    """Why this file is not canonical as it is (empty: read it directly). Raises when it cannot work."""
    names = set(schema.names)
    missing = [c for c in (*REQUIRED, "epoch") if c not in names]
    lowered = {n.lower() for n in names}
    for column in missing:
        if column == "epoch" and epoch is None and "epoch" not in lowered:
            raise InputError(_no_epoch(kind, name))
        if column != "epoch" and column not in lowered:
            raise InputError(f"{kind} file {name} has no {column!r} column (it has: {', '.join(schema.names)}): "
                             f"rename {REQUIRED[column]} to {column}")
    problems = [f"no {c}" for c in missing]
    if kind == "stars" and ("healpix" not in names or schema.field("healpix").type != pa.int64()):
        problems.append("healpix")
    for field in schema:
        if field.name == "source_id" and field.type != pa.string():
            problems.append("source_id type")
        elif (field.name in FLOAT_COLUMNS and field.type != pa.float64()) or _needs_plain(field.type) \
                or field.name in RESERVED:
            problems.append(f"{field.name} type")
    return problems


def _needs_plain(t: pa.DataType) -> bool:
    return (pa.types.is_dictionary(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            or pa.types.is_large_binary(t) or pa.types.is_binary_view(t))


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Dictionary-encoded columns decoded; large and view strings (binaries) as plain string (binary)."""
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return column.cast(pa.string())
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return column.cast(pa.binary())
    return column


def _ids(column: pa.ChunkedArray, kind: str, name: str) -> pa.ChunkedArray:
    t = column.type
    if pa.types.is_string(t):
        return column
    if pa.types.is_integer(t) or pa.types.is_binary(t):
        return column.cast(pa.string())  # 64-bit integers exactly (no float detour), nulls stay null
    raise InputError(f"{kind} file {name}: source_id is {t}; ids must be strings or integers: convert the "
                     "column (e.g. df['source_id'] = df['source_id'].astype(str))")


def _floats(column: pa.ChunkedArray, field: str, kind: str, name: str) -> pa.ChunkedArray:
    t = column.type
    if pa.types.is_floating(t) or pa.types.is_integer(t) or pa.types.is_decimal(t) or pa.types.is_null(t):
        return pc.cast(column, pa.float64())
    raise InputError(f"{kind} file {name}: column {field} is {t}; it must be a number "
                     f"({'degrees' if field in ('ra', 'dec') else 'see radiolake/schema.py for its unit'})")


def _rename_case(table: pa.Table) -> pa.Table:
    """RA/Dec/SOURCE_ID/Epoch written in another case take the canonical name when that is unambiguous."""
    lowered: dict[str, list[str]] = {}
    for n in table.column_names:
        lowered.setdefault(n.lower(), []).append(n)
    renames = {}
    for canonical in (*REQUIRED, "epoch"):
        found = lowered.get(canonical, [])
        if canonical not in table.column_names and len(found) == 1:
            renames[found[0]] = canonical
    return table.rename_columns([renames.get(n, n) for n in table.column_names]) if renames else table


def _names(table: pa.Table) -> str:
    return ", ".join(table.column_names[:12]) + (", ..." if table.num_columns > 12 else "")


def _no_epoch(kind: str, name: str) -> str:
    return (f"{kind} file {name} has no 'epoch' column: add one (Julian year of the positions, e.g. 2016.0 for "
            f"Gaia DR3) or pass --{kind}-epoch YEAR")
