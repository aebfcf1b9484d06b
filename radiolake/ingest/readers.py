"""Readers: a fetched file (CSV, FITS, VOTable, Parquet, whitespace text, binary records) → Arrow batches.

Readers do not judge rows, only files: a file that cannot be read as a whole (empty, truncated, not the
format it claims) raises `ReadError` with a reason, and the pipeline quarantines the file. CSV and
whitespace text come back as strings so that `normalize` can tell, row by row, which value failed to parse
(a typed reader would fail or coerce the whole column). Binary formats come back typed.
"""

from __future__ import annotations

import gzip
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

DEFAULT_BATCH_ROWS = 250_000


class ReadError(ValueError):
    """A whole file cannot be read; `reason` is a short machine-friendly code, the message says why."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def _check_not_empty(path: Path) -> None:
    if not path.exists():
        raise ReadError("missing_file", f"{path} does not exist")
    if path.stat().st_size == 0:
        raise ReadError("empty_file", f"{path.name} has 0 bytes")


SUFFIX_FORMATS = {
    ".fits": "fits",
    ".fit": "fits",
    ".fits.gz": "fits",
    ".vot": "votable",
    ".xml": "votable",
    ".votable": "votable",
    ".csv": "csv",
    ".csv.gz": "csv",
    ".parquet": "parquet",
}


def detect_format(filename: str, default: str) -> str:
    """The format a file's suffix names, else `default` (e.g. a FITS export of a VOTable survey)."""
    lower = filename.lower()
    for suffix, fmt in sorted(SUFFIX_FORMATS.items(), key=lambda kv: -len(kv[0])):
        if lower.endswith(suffix):
            return fmt
    return default


def read_batches(
    path: str | Path, fmt: str, options: dict[str, Any] | None = None, batch_rows: int = DEFAULT_BATCH_ROWS
) -> Iterator[pa.Table]:
    """Yield the file's rows as Arrow tables of at most `batch_rows` rows, source column names kept."""
    path = Path(path)
    options = options or {}
    _check_not_empty(path)
    readers = {
        "csv": _read_csv,
        "fits": _read_fits,
        "votable": _read_votable,
        "parquet": _read_parquet,
        "whitespace": _read_whitespace,
        "binary_records": _read_binary_records,
    }
    if fmt not in readers:
        raise ReadError("unknown_format", f"no reader for format {fmt!r}")
    yield from readers[fmt](path, options, batch_rows)


def _read_csv(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    delimiter = options.get("delimiter", ",")
    try:
        first = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
        names = first.schema.names
        first.close()
    except (pa.ArrowInvalid, StopIteration) as exc:
        raise ReadError("unreadable_csv", f"{path.name}: {exc}") from exc
    convert = pacsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=True)
    reader = pacsv.open_csv(
        path,
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        read_options=pacsv.ReadOptions(block_size=1 << 22),
        convert_options=convert,
    )
    n = 0
    try:
        for batch in reader:
            n += batch.num_rows
            table = pa.Table.from_batches([batch])
            for start in range(0, table.num_rows, batch_rows):
                yield table.slice(start, batch_rows)
    except pa.ArrowInvalid as exc:
        raise ReadError("unreadable_csv", f"{path.name} after row {n}: {exc}") from exc
    if n == 0:
        raise ReadError("empty_file", f"{path.name} has a header but no data rows")


def _uncompressed_size(path: Path) -> int:
    """Bytes of the FITS stream itself: a `.fits.gz` is measured decompressed (its offsets are the
    uncompressed ones), by one streaming pass; EOFError if the gzip stream is cut short."""
    with path.open("rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        return path.stat().st_size
    size = 0
    with gzip.open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            size += len(block)
    return size


def _fits_truncation(path: Path, hdu_index: int) -> str | None:
    """A reason if the FITS file is shorter than its headers declare, else None."""
    from astropy.io import fits

    try:
        size = _uncompressed_size(path)
    except (OSError, EOFError) as exc:
        return f"compressed stream damaged or cut short ({exc})"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # astropy warns about truncation; we report it ourselves
            hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
        with hdul:
            hdu = hdul[hdu_index]
            info = hdul.fileinfo(hdu_index)
            need = (
                info["datLoc"]
                + hdu.header.get("NAXIS1", 0) * hdu.header.get("NAXIS2", 0)
                + hdu.header.get("PCOUNT", 0)
            )
    except (OSError, IndexError, KeyError, TypeError, ValueError) as exc:
        return f"headers unreadable ({exc})"
    return f"file has {size} bytes, headers declare {need}" if size < need else None


def astropy_to_arrow(table: Any) -> pa.Table:
    """An astropy Table → Arrow, masked values → nulls, byte strings → str, multi-dim columns dropped."""
    arrays, names = [], []
    for name in table.colnames:
        col = table[name]
        if col.ndim > 1:
            continue
        data = np.asarray(col)
        if data.dtype.byteorder == ">":  # FITS is big-endian; Arrow wants native order
            data = data.astype(data.dtype.newbyteorder("="))
        mask = np.asarray(getattr(col, "mask", np.zeros(len(col), bool)), bool)
        if mask.shape != data.shape:
            mask = np.zeros(data.shape, bool)
        if data.dtype.kind == "S":
            data = np.char.decode(data, "utf-8", errors="replace")
        if data.dtype.kind in "US":
            data = np.char.strip(data.astype(str))
            arrays.append(pa.array(data.tolist(), pa.string(), mask=mask))
        elif data.dtype.kind == "O":
            arrays.append(
                pa.array(
                    [None if m else (None if v is None else str(v)) for v, m in zip(data, mask, strict=True)]
                )
            )
        else:
            arrays.append(pa.array(data, mask=mask if mask.any() else None))
        names.append(name)
    return pa.table(arrays, names=names)


def _read_fits(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    from astropy.table import Table

    hdu = int(options.get("hdu", 1))
    problem = _fits_truncation(path, hdu)
    if problem:
        raise ReadError("truncated_fits", f"{path.name}: {problem}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # non-standard unit strings (DEGREE, JY/BEAM) are common
            table = Table.read(path, format="fits", hdu=hdu)
    except Exception as exc:  # astropy raises many types for damaged files
        raise ReadError("unreadable_fits", f"{path.name}: {exc}") from exc
    yield from _slices(astropy_to_arrow(table), batch_rows)


def _read_votable(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    from astropy.io.votable import parse_single_table

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = parse_single_table(str(path)).to_table(use_names_over_ids=True)
    except Exception as exc:  # astropy raises many types for damaged files
        raise ReadError("unreadable_votable", f"{path.name}: {exc}") from exc
    yield from _slices(astropy_to_arrow(table), batch_rows)


def _read_parquet(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReadError("unreadable_parquet", f"{path.name}: {exc}") from exc
    for batch in pf.iter_batches(batch_size=batch_rows):
        yield pa.Table.from_batches([batch])


def _read_whitespace(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    names = options.get("names")
    if not names:
        raise ReadError("bad_read_options", "format whitespace needs read_options.names")
    try:
        chunks = pd.read_csv(
            path,
            sep=r"\s+",
            header=None,
            names=names,
            dtype=str,
            chunksize=batch_rows,
            comment=options.get("comment"),
        )
        n = 0
        for chunk in chunks:
            n += len(chunk)
            yield pa.Table.from_pandas(chunk, preserve_index=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ReadError("unreadable_text", f"{path.name}: {exc}") from exc
    if n == 0:
        raise ReadError("empty_file", f"{path.name} has no data rows")


def _read_binary_records(path: Path, options: dict[str, Any], batch_rows: int) -> Iterator[pa.Table]:
    """Fixed-size little-endian records after a header: `header_bytes`, optional `magic`, `fields`."""
    dtype = np.dtype([(str(n), str(t)) for n, t in options["fields"]])
    header = int(options.get("header_bytes", 0))
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(header)
    magic = options.get("magic")
    if magic and not head.startswith(magic.encode()):
        raise ReadError("bad_magic", f"{path.name} does not start with {magic!r}")
    n_records, rest = divmod(size - header, dtype.itemsize)
    if header >= 16 and magic:  # the header declares the record count (u64 at byte 8): check it
        declared = int(np.frombuffer(head[8:16], "<u8")[0])
        if declared != n_records or rest:
            raise ReadError(
                "truncated_file",
                f"{path.name}: header declares {declared} records, file holds {n_records} (+{rest} bytes)",
            )
    elif rest:
        raise ReadError("truncated_file", f"{path.name}: {rest} trailing bytes after {n_records} records")
    for start in range(0, n_records, batch_rows):
        arr = np.fromfile(
            path,
            dtype=dtype,
            count=min(batch_rows, n_records - start),
            offset=header + start * dtype.itemsize,
        )
        yield pa.table({name: arr[name].astype(arr[name].dtype.newbyteorder("=")) for name in dtype.names})


def _slices(table: pa.Table, batch_rows: int) -> Iterator[pa.Table]:
    for start in range(0, max(table.num_rows, 1), batch_rows):
        yield table.slice(start, batch_rows)
