"""Who may take the pipeline's locks and connect where, cluster-wide (run as the superuser at every start).

Every pipeline lock (dbt builds, loads, the load DDL, grants, ingests) is a Postgres advisory lock, and by
default PUBLIC may execute the advisory-lock functions: the read-only analyst could take
`radiolake.warehouse.dbt` and sit idle, stalling every build. Function privileges live in each database's
own catalog, so the lock-down is applied in every database that accepts connections, template1 included
(databases created later copy it). Only the pipeline roles get the functions back: the warehouse owner
(its locks) and Airflow's role (Airflow's migrations lock its metadata database the same way).
docker/postgres/init/10-radiolake-roles.sh applies the same statements to a compose database.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from radiolake.config import AIRFLOW_ROLE, WAREHOUSE_ROLE

#: Roles that may execute the advisory-lock functions.
LOCK_ROLES = (WAREHOUSE_ROLE, AIRFLOW_ROLE)
#: Databases nobody but the superuser needs; PUBLIC loses CONNECT (and TEMPORARY) on them.
SYSTEM_DATABASES = ("postgres", "template1")

_ADVISORY_FUNCTIONS = ("SELECT p.oid::regprocedure::text FROM pg_proc p "
                       "WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE '%advisory%' "
                       "ORDER BY 1")


def restrict_advisory_locks(conn: psycopg.Connection, roles: tuple[str, ...] = LOCK_ROLES) -> int:
    """In the connected database: revoke EXECUTE on every advisory-lock function from PUBLIC and grant it
    to `roles`. Returns how many functions were restricted. Idempotent."""
    grantees = sql.SQL(", ").join(sql.Identifier(r) for r in roles)
    # The signatures come from the catalog (e.g. "pg_advisory_lock(bigint)"), never from input.
    functions = [row[0] for row in conn.execute(_ADVISORY_FUNCTIONS).fetchall()]
    with conn.transaction():
        for function in functions:
            conn.execute(sql.SQL("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC").format(sql.SQL(function)))
            conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(function), grantees))
    return len(functions)


def lock_down(dsn_for: Callable[[str], str]) -> None:
    """Close the system databases to PUBLIC and restrict the advisory locks in every database that accepts
    connections. `dsn_for(dbname)` is the superuser's DSN for that database."""
    with psycopg.connect(dsn_for("postgres"), autocommit=True, connect_timeout=10) as conn:
        for db in SYSTEM_DATABASES:
            conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db)))
        databases = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn ORDER BY 1")]
    for db in databases:
        with psycopg.connect(dsn_for(db), autocommit=True, connect_timeout=10) as conn:
            restrict_advisory_locks(conn)
