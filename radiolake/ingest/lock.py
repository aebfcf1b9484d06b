"""One ingest per catalogue at a time: a PostgreSQL session advisory lock on the catalogue's lake path.

Why Postgres: the warehouse is there wherever the pipeline runs (embedded and under compose), and a session
lock dies with its holder: a killed task's connection closes and the lock is free at once, no expiry to wait
for and no stale lock object to clean. S3 has no compare-and-swap that both MinIO and SeaweedFS honour, so a
lock object there could be taken twice. A catalogue in a local folder (tests, laptops) is locked with
flock(2) on `<base>.lock` instead, which the kernel also releases when its holder dies.

While an ingest holds the lock it alone decides the catalogue's versions: a version folder without its
commit marker is then known to be left by a dead writer (safe to delete), CURRENT moves in order, and pruning
never races another writer's commit. A second ingest of the same catalogue waits (bounded), then finds the
version already committed if its input was the same.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pyarrow.fs as pafs

from radiolake.config import Settings

log = logging.getLogger(__name__)

#: How long a second ingest of the same catalogue waits for the first (RADIOLAKE_INGEST_LOCK_WAIT_S).
DEFAULT_WAIT_S = 3600.0
APP_PREFIX = "radiolake-ingest"


class CatalogLocked(RuntimeError):
    """Another ingest held the catalogue for longer than we were willing to wait."""


def lock_key(base: str) -> str:
    return f"radiolake.ingest:{base.rstrip('/')}"


@contextmanager
def catalog_lock(base: str, fs: pafs.FileSystem, settings: Settings | None,
                 wait_s: float | None = None) -> Iterator[None]:
    """Hold the ingest lock of the catalogue at `base` (on `fs`) for the duration of the block.

    A lake catalogue without a warehouse to lock with runs unlocked, and says so.
    """
    wait_s = float(os.environ.get("RADIOLAKE_INGEST_LOCK_WAIT_S", wait_s if wait_s is not None else DEFAULT_WAIT_S))
    if isinstance(fs, pafs.LocalFileSystem):
        with _file_lock(base, wait_s):
            yield
        return
    if settings is None or not settings.warehouse_dsn:
        log.warning("ingest %s: no warehouse configured, so no ingest lock: do not ingest this catalogue twice "
                    "at the same time", base)
        yield
        return
    owner = f"{APP_PREFIX} {socket.gethostname()}:{os.getpid()} {base}"[:63]
    with psycopg.connect(settings.warehouse_dsn, autocommit=True, application_name=owner) as conn:
        holder = conn.execute(
            "SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = hashtext(%s)::oid", (lock_key(base),),
        ).fetchone()
        if holder:
            log.info("ingest %s: waiting for the other ingest of this catalogue (%s, since %s)", base, *holder)
        conn.execute(f"SET lock_timeout = {int(wait_s * 1000)}")
        try:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (lock_key(base),))
        except psycopg.errors.LockNotAvailable as exc:
            raise CatalogLocked(
                f"ingest {base}: another ingest of this catalogue ({holder[0] if holder else 'unknown'}) held its "
                f"lock for more than {wait_s:.0f} s (RADIOLAKE_INGEST_LOCK_WAIT_S); retry when it has finished"
            ) from exc
        conn.execute("SET lock_timeout = 0")
        try:
            yield
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock_key(base),))


@contextmanager
def _file_lock(base: str, wait_s: float) -> Iterator[None]:
    path = Path(base.rstrip("/") + ".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CatalogLocked(f"ingest {base}: another ingest of this catalogue held {path} for more than "
                                        f"{wait_s:.0f} s (RADIOLAKE_INGEST_LOCK_WAIT_S)") from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
