"""Canonical, HEALPix-sorted copies of a user's Parquet, kept under the state directory for the next run.

A user's star file in no particular order (or one large row group) cannot be planned as a lake catalogue
is: every row group covers the whole sky, so every task needs every radio row, and one 1 M-row row group is
one task on one core. `user_input.prepare_input` sorts such a file once by `healpix` into row groups of its
own; this module keeps that copy so a second run over the same file reads the sorted copy at once.

The key is cheap and safe without reading the rows: for every file of the input, its path, size, mtime (ns)
and the bytes of its Parquet footer (row counts, column statistics, schema), plus what the copy depends on
(catalogue kind, the epoch filling a missing column, FORMAT). A rewritten file changes size, mtime or
footer; a copy is only ever used whole (written under a temporary name, renamed last). Entries are
evicted least recently used beyond RADIOLAKE_INPUT_CACHE_GB (default 20), half-written copies of runs that
died after a day; RADIOLAKE_INPUT_CACHE=off keeps copies in the run's temporary folder instead, as before.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

import pyarrow.fs as pafs

from radiolake.config import state_home

#: Bumped when what a cached copy holds changes (schema rules, sort, row groups): old entries are not used.
FORMAT = "1"
#: Where the copies live, under the state directory.
CACHE_DIR = ("cache", "inputs")
DEFAULT_LIMIT_GB = 20.0
#: A temporary copy folder older than this (seconds) was left by a run that died: removed.
STALE_S = 86_400


def cache_root() -> Path | None:
    """The cache folder, None when RADIOLAKE_INPUT_CACHE=off."""
    if os.environ.get("RADIOLAKE_INPUT_CACHE", "").strip().lower() in ("off", "0", "false", "no"):
        return None
    return state_home().joinpath(*CACHE_DIR)


def _footer(fs: pafs.FileSystem, path: str, size: int) -> bytes:
    """The Parquet footer (metadata + its length + magic): what the file holds, without reading its rows."""
    with fs.open_input_file(path) as f:
        if size < 12:
            return f.read()
        f.seek(size - 8)
        tail = f.read(8)
        n = int.from_bytes(tail[:4], "little")
        f.seek(max(size - 8 - n, 0))
        return f.read(n) + tail


def input_key(fs: pafs.FileSystem, files: list[str], kind: str, epoch: float | None) -> str:
    """Content key of an input: every file's path, size, mtime and footer bytes, and what the copy depends on."""
    h = hashlib.sha256(f"{FORMAT}|{kind}|{epoch!r}".encode())
    for path, info in zip(files, fs.get_file_info(files), strict=True):
        mtime = info.mtime_ns if info.mtime_ns is not None else 0
        h.update(f"|{path}|{info.size}|{mtime}|".encode())
        h.update(hashlib.sha256(_footer(fs, path, info.size)).digest())
    return h.hexdigest()[:32]


def cached(root: Path, key: str) -> Path | None:
    """The finished copy for `key` (touched: used now), None when there is none."""
    entry = root / key
    if not (entry / "DONE").exists():
        return None
    os.utime(entry / "DONE")
    return entry / "data"


def new_entry(root: Path, key: str) -> Path:
    """A temporary folder to write the copy of `key` in; `commit` makes it the entry."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{key}.{os.getpid()}.{time.time_ns()}"
    (tmp / "data").mkdir(parents=True)
    return tmp


def commit(root: Path, key: str, tmp: Path) -> Path:
    """Move a written copy into place (another run may have finished the same key first: keep either)."""
    (tmp / "DONE").write_text(key)
    entry = root / key
    try:
        tmp.rename(entry)
    except OSError:  # already there (a concurrent run): ours is the same content
        shutil.rmtree(tmp, ignore_errors=True)
    evict(root, keep=key)
    return entry / "data"


def evict(root: Path, keep: str | None = None) -> None:
    """Remove the least recently used entries while the cache is above its limit (never `keep`)."""
    limit = float(os.environ.get("RADIOLAKE_INPUT_CACHE_GB", DEFAULT_LIMIT_GB)) * 2**30
    entries = []
    for entry in root.iterdir():
        done = entry / "DONE"
        if entry.name.startswith("."):  # a copy being written, or left by a run that died a day ago
            if time.time() - entry.stat().st_mtime > STALE_S:
                shutil.rmtree(entry, ignore_errors=True)
            continue
        if not done.exists():
            continue
        size = sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
        entries.append((done.stat().st_mtime, size, entry))
    total = sum(size for _, size, _ in entries)
    for _, size, entry in sorted(entries):
        if total <= limit:
            break
        if entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)
            total -= size
