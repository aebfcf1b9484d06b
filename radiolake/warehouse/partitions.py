"""A run's partitions of the `load.*` tables: their names, and dropping them.

The load (replacing a run) and retention (dropping old runs) both find a run's partitions by name; both read
it from here, so neither imports the other for it.
"""

from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql


def partition_prefix(table: str, run_id: str) -> str:
    """Name prefix of a run's partitions of `table`: run ids are free text, identifiers are not."""
    return f"{table}__r{hashlib.sha256(run_id.encode()).hexdigest()[:16]}"


def drop_run_partitions(cur: psycopg.Cursor, table: str, run_id: str) -> list[str]:
    """Drop every partition of `load.<table>` that holds `run_id` (a staged table not yet attached is not a
    partition, so it stays); returns the names dropped."""
    cur.execute("""
        SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = %s::regclass AND c.relname LIKE %s""",
                (f"load.{table}", partition_prefix(table, run_id) + "\\_%"))
    dropped = [name for (name,) in cur.fetchall()]
    for name in dropped:
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier("load", name)))
    return dropped
