"""One page of a folder: S3 list with a delimiter, a page at a time, sorted, with a checked "next" token.

A page is at most `PAGE_SIZE` entries in key order from the server (a folder of 10,000 objects is never
listed whole). The "next" token is the last name shown: the next page asks the server to start after it.
It must lie inside the folder being listed (so a crafted token cannot list another prefix) and be a
plausible key; anything else is a 400. Sorting orders the page shown (folders first).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

PAGE_SIZE = 200
MAX_KEY_BYTES = 1024
SORT_KEYS = ("name", "size", "modified", "type")
#: Types mimetypes does not know, by file name ending.
EXTRA_TYPES = {".parquet": "application/vnd.apache.parquet", ".yaml": "application/yaml",
               ".yml": "application/yaml", ".md": "text/markdown", ".fits": "application/fits",
               ".csv": "text/csv", ".json": "application/json"}
#: Short type labels people read in the listing.
LABELS = {"application/vnd.apache.parquet": "Parquet", "application/json": "JSON", "application/yaml": "YAML",
          "text/csv": "CSV", "text/html": "HTML", "text/markdown": "Markdown", "text/plain": "text",
          "image/png": "PNG image", "image/jpeg": "JPEG image", "image/svg+xml": "SVG image",
          "application/fits": "FITS", "application/gzip": "gzip", "application/pdf": "PDF"}


class BadRequest(ValueError):
    """A listing parameter that cannot be honoured (bad token, bad sort key): a 400 with this text."""


@dataclass(frozen=True)
class Entry:
    name: str  # full key (folders end with "/")
    is_dir: bool
    size: int | None = None
    modified: datetime | None = None

    @property
    def base(self) -> str:
        """The name relative to its folder."""
        return self.name.rstrip("/").rpartition("/")[2] + ("/" if self.is_dir else "")

    @property
    def content_type(self) -> str:
        return "folder" if self.is_dir else content_type(self.name)

    @property
    def label(self) -> str:
        return "folder" if self.is_dir else type_label(self.name)


@dataclass(frozen=True)
class Page:
    prefix: str
    entries: list[Entry]
    next_token: str | None


def content_type(key: str) -> str:
    lower = key.lower()
    for ending, kind in EXTRA_TYPES.items():
        if lower.endswith(ending):
            return kind
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def type_label(key: str) -> str:
    kind = content_type(key)
    if kind in LABELS:
        return LABELS[kind]
    ending = key.rpartition("/")[2].rpartition(".")[2]
    return ending.upper() if "." in key.rpartition("/")[2] else "file"


def check_prefix(prefix: str) -> str:
    """A folder prefix: '' or ending with '/', no empty or dot segments, no control characters."""
    if prefix == "":
        return prefix
    if not prefix.endswith("/") or _bad_key(prefix):
        raise BadRequest("not a folder path")
    if any(part in ("", ".", "..") for part in prefix[:-1].split("/")):
        raise BadRequest("not a folder path")
    return prefix


def check_token(token: str | None, prefix: str) -> str | None:
    """The page token from a "next" link: a key strictly inside `prefix`, else BadRequest."""
    if token is None or token == "":
        return None
    if _bad_key(token) or not token.startswith(prefix) or token == prefix:
        raise BadRequest("invalid page token")
    return token


def _bad_key(key: str) -> bool:
    return len(key.encode()) > MAX_KEY_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in key)


def take_page(items: Iterable[Entry], prefix: str, after: str | None, size: int = PAGE_SIZE) -> Page:
    """The first `size` entries after `after` (a repeated folder name at the start of a page is skipped)."""
    entries: list[Entry] = []
    more = False
    for entry in items:
        if entry.name == prefix or (after is not None and entry.name <= after):
            continue  # the folder itself, or a folder the server repeats after a start-after inside it
        if len(entries) == size:
            more = True
            break
        entries.append(entry)
    return Page(prefix, entries, entries[-1].name if more and entries else None)


def sort_entries(entries: list[Entry], key: str = "name", descending: bool = False) -> list[Entry]:
    """Folders first (by name), then objects by `key`; objects with no value for the key go last."""
    if key not in SORT_KEYS:
        raise BadRequest(f"sort must be one of {', '.join(SORT_KEYS)}")
    folders = sorted((e for e in entries if e.is_dir), key=lambda e: e.name, reverse=descending)
    objects = [e for e in entries if not e.is_dir]

    def value(e: Entry):
        return {"name": e.name, "size": e.size, "modified": e.modified, "type": (e.label.lower(), e.name)}[key]

    present = sorted((e for e in objects if value(e) is not None), key=value, reverse=descending)
    return folders + present + [e for e in objects if value(e) is None]


def list_page(client, bucket: str, prefix: str, token: str | None, size: int = PAGE_SIZE) -> Page:
    """One page of `bucket/prefix` through the S3 API (ListObjectsV2 with delimiter and start-after)."""
    raw = client.list_objects(bucket, prefix=prefix or None, recursive=False, start_after=token)
    entries = (Entry(o.object_name, bool(o.is_dir), None if o.is_dir else o.size,
                     None if o.is_dir else o.last_modified) for o in raw)
    return take_page(entries, prefix, token, size)


def human_size(n: int | None) -> str:
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def breadcrumbs(bucket: str, prefix: str) -> list[tuple[str, str]]:
    """(label, folder prefix) from the bucket down to `prefix`."""
    crumbs = [(bucket, "")]
    path = ""
    for part in [p for p in prefix.split("/") if p]:
        path += part + "/"
        crumbs.append((part, path))
    return crumbs
