"""Warehouse privileges: the owner role loads and builds; the analyst role reads schema `marts` only.

Run as the warehouse owner (it owns every object it grants on). Default privileges matter because dbt drops
and recreates the mart tables on every build: without them each build would silently revoke the analyst.
Everything is idempotent; it runs after every load and dbt build.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg import sql

from radiolake.config import ANALYST_ROLE

log = logging.getLogger(__name__)

MARTS_SCHEMA = "marts"
#: Schemas the owner creates; the analyst gets no USAGE on any of them except marts.
PRIVATE_SCHEMAS = ("load", "staging", "intermediate", "public")


def apply_grants(conn: psycopg.Connection, analyst: str = ANALYST_ROLE, marts: str = MARTS_SCHEMA) -> None:
    """Grant `analyst` read on `marts` (now and for tables created later) and nothing anywhere else."""
    a, m = sql.Identifier(analyst), sql.Identifier(marts)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('radiolake.warehouse.grants'))")
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (analyst,))
        if cur.fetchone() is None:
            raise RuntimeError(f"role {analyst!r} does not exist: the stack (or terraform) creates it")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(m))
        db = sql.Identifier(conn.info.dbname)
        # PUBLIC may connect (the analyst needs that) but not create temp tables or use schema public.
        cur.execute(sql.SQL("REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
        cur.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, a))
        cur.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for schema in PRIVATE_SCHEMAS:
            cur.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,))
            if cur.fetchone() is not None:
                cur.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(schema), a))
        cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(m, a))
        cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(m, a))
        cur.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT ON TABLES TO {}")
                    .format(m, a))
        # Only a superuser can close the advisory locks (the stack and the compose init do); say so when a
        # database set up otherwise (terraform, an older compose volume) still lets the analyst take them.
        cur.execute("SELECT has_function_privilege(%s, 'pg_advisory_lock(bigint)', 'EXECUTE')", (analyst,))
        if cur.fetchone()[0]:
            log.warning("role %r may take the pipeline's advisory locks in database %s and so stall dbt, loads "
                        "and ingests: as a superuser, revoke EXECUTE on the pg_advisory* functions from PUBLIC "
                        "(see radiolake/stack/pg_access.py)", analyst, conn.info.dbname)


def grant_analyst(dsn: str, analyst: str = ANALYST_ROLE) -> None:
    """Connect as the owner (`dsn`) and apply the grants."""
    with psycopg.connect(dsn, application_name="radiolake-grants") as conn:
        apply_grants(conn, analyst)
