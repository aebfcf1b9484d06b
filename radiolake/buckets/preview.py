"""What the browser shows inside an object: the first KB of text, a Parquet file's footer and first rows.

Everything here reads a bounded amount: text is a ranged GET of `TEXT_BYTES`; Parquet is its footer (schema,
row count, row groups) and the first rows of the first row group, through pyarrow's S3 filesystem, which
reads by byte range, never the whole file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow.parquet as pq

from radiolake.buckets.listing import content_type

TEXT_BYTES = 64 * 1024
PARQUET_ROWS = 20
CSV_ROWS = 50
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TEXT_TYPES = ("application/json", "application/yaml", "text/csv", "text/plain", "text/markdown")


def preview_kind(key: str) -> str | None:
    """'image', 'html', 'text', 'parquet' or None (download only)."""
    kind = content_type(key)
    if kind in IMAGE_TYPES:
        return "image"
    if kind == "text/html":
        return "html"
    if kind == "application/vnd.apache.parquet":
        return "parquet"
    if kind in TEXT_TYPES or key.rpartition("/")[2] in ("CURRENT", "_COMMITTED", "properties"):
        return "text"
    return None


@dataclass
class TextPreview:
    text: str
    truncated: bool
    rows: list[list[str]] | None = None  # CSV, parsed


def text_preview(data: bytes, key: str, total_size: int | None) -> TextPreview:
    """Decode the first bytes; pretty-print JSON when whole, parse CSV into rows."""
    truncated = total_size is not None and total_size > len(data)
    text = data.decode("utf-8", errors="replace")
    if truncated:  # do not show half a character or half a line
        text = text[: text.rfind("\n") + 1] or text
    kind = content_type(key)
    if kind == "application/json" and not truncated:
        with contextlib.suppress(ValueError):  # not JSON after all: shown as stored
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    rows = None
    if kind == "text/csv":
        rows = list(itertools.islice(csv.reader(io.StringIO(text)), CSV_ROWS + 1))
    return TextPreview(text, truncated, rows)


def read_head(client, bucket: str, key: str, n: int = TEXT_BYTES) -> bytes:
    """The first `n` bytes of an object (a ranged GET)."""
    resp = client.get_object(bucket, key, offset=0, length=n)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


@dataclass
class ParquetPreview:
    num_rows: int
    num_row_groups: int
    schema: list[tuple[str, str]]
    columns: list[str]
    rows: list[list[Any]]
    key_value: dict[str, str] = field(default_factory=dict)
    created_by: str = ""


def parquet_preview(source, n_rows: int = PARQUET_ROWS) -> ParquetPreview:
    """Footer and first rows of a Parquet file; `source` is a seekable file (pyarrow S3 input file)."""
    pf = pq.ParquetFile(source)
    meta = pf.metadata
    schema = [(f.name, str(f.type)) for f in pf.schema_arrow]
    rows: list[list[Any]] = []
    if meta.num_rows and meta.num_row_groups:
        batch = next(pf.iter_batches(batch_size=n_rows, row_groups=[0]), None)
        if batch is not None:
            table = batch.slice(0, n_rows).to_pylist()
            rows = [[r.get(name) for name, _ in schema] for r in table]
    kv = {k.decode(errors="replace"): v.decode(errors="replace")[:200]
          for k, v in (pf.schema_arrow.metadata or {}).items() if k != b"ARROW:schema"}
    return ParquetPreview(meta.num_rows, meta.num_row_groups, schema, [n for n, _ in schema], rows, kv,
                          meta.created_by or "")


def cell(value: Any) -> str:
    """A table cell's text: floats to 6 significant digits, long values cut."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
