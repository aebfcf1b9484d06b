"""Issue 24 items 1 and 9 (Postgres) against the real stack: the analyst cannot take the pipeline's locks.

Every pipeline lock is a Postgres advisory lock (dbt builds, loads, the load DDL, grants, ingests). Any role
could take one, so the read-only analyst could take `radiolake.warehouse.dbt` and sit idle, stalling every
build. Now only the pipeline roles may execute the advisory-lock functions, in every database; an idle
analyst session is ended by the server; the analyst may connect to the warehouse only.
"""

from __future__ import annotations

import logging
import re
import select

import psycopg
import pytest
from psycopg import sql

from radiolake.config import AIRFLOW_DB, AIRFLOW_ROLE, ANALYST_ROLE, WAREHOUSE_DB, WAREHOUSE_ROLE, repo_root
from radiolake.ingest.lock import lock_key
from radiolake.stack.pg_access import lock_down
from radiolake.timeouts import ROLE_LIMITS_MS
from radiolake.warehouse import dbt_runner
from radiolake.warehouse.grants import grant_analyst
from radiolake.warehouse.load import LOAD_LOCK

pytestmark = pytest.mark.integration

#: The lock statements the pipeline runs (dbt_runner.build_lock, load.py, grants.py, ingest/lock.py), and
#: the other forms of the same functions an analyst could reach for.
ANALYST_LOCK_ATTEMPTS = [
    ("SELECT pg_advisory_lock(hashtext('radiolake.warehouse.dbt'))", ()),
    ("SELECT pg_advisory_lock_shared(hashtext('radiolake.warehouse.dbt'))", ()),
    ("SELECT pg_try_advisory_lock(hashtext('radiolake.warehouse.dbt'))", ()),
    ("SELECT pg_advisory_lock(hashtext('radiolake.warehouse.dbt:' || %s))", ("run stg_pairs",)),
    ("SELECT pg_advisory_lock(hashtext(%s))", (LOAD_LOCK,)),
    ("SELECT pg_advisory_lock(hashtext(%s))", (lock_key("s3://raw/srsc"),)),
    ("SELECT pg_try_advisory_lock_shared(hashtext('radiolake.warehouse.ddl'))", ()),
    ("SELECT pg_advisory_lock(1, 2)", ()),
]


@pytest.mark.parametrize(("statement", "params"), ANALYST_LOCK_ATTEMPTS)
def test_analyst_cannot_take_a_pipeline_lock(stack, statement, params):
    with psycopg.connect(stack.analyst_dsn, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied for function"):
            conn.execute(statement, params)
        # nor inside a transaction (the _xact_ forms the loader and grants use)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('radiolake.warehouse.grants'))")
        held = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                            "pg_backend_pid()").fetchone()[0]
    assert held == 0


def test_only_pipeline_roles_may_execute_advisory_lock_functions_in_any_database(stack):
    """PUBLIC (every role, present and future) has no EXECUTE on any advisory-lock function anywhere."""
    admin = stack.stack.postgres
    with psycopg.connect(admin.dsn(), autocommit=True) as conn:
        databases = [r[0] for r in conn.execute("SELECT datname FROM pg_database WHERE datallowconn")]
    assert {"postgres", "template1", WAREHOUSE_DB, AIRFLOW_DB} <= set(databases)
    for db in databases:
        with psycopg.connect(admin.dsn(dbname=db), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT p.oid::regprocedure::text, coalesce(p.proacl::text[], '{}'), "
                "       has_function_privilege(%s, p.oid, 'EXECUTE'), has_function_privilege(%s, p.oid, 'EXECUTE'),"
                "       has_function_privilege(%s, p.oid, 'EXECUTE') "
                "FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE '%%advisory%%'",
                (ANALYST_ROLE, WAREHOUSE_ROLE, AIRFLOW_ROLE)).fetchall()
        assert len(rows) >= 16, db  # lock, lock_shared, try_, xact_, unlock... in bigint and (int, int) forms
        for function, acl, analyst, warehouse, airflow in rows:
            assert not any(entry.startswith("=") for entry in acl), (db, function, acl)  # "=X/..." is PUBLIC
            assert (analyst, warehouse, airflow) == (False, True, True), (db, function)


def test_pipeline_lock_still_excludes_a_second_holder(stack):
    """The dbt build lock is held by the pipeline role and keeps a second pipeline session out."""
    dsn = stack.settings.warehouse_dsn
    with dbt_runner.build_lock(dsn, holder="test-open-doors-locks"), \
            psycopg.connect(dsn, autocommit=True) as other:
        got = other.execute("SELECT pg_try_advisory_lock(hashtext('radiolake.warehouse.dbt'))").fetchone()[0]
    assert got is False
    with psycopg.connect(dsn, autocommit=True) as again:
        got = again.execute("SELECT pg_try_advisory_lock(hashtext('radiolake.warehouse.dbt'))").fetchone()[0]
    assert got is True


@pytest.mark.parametrize("dbname", ["postgres", "template1", AIRFLOW_DB])
def test_analyst_cannot_connect_outside_the_warehouse(stack, dbname):
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(stack.stack.postgres.dsn(ANALYST_ROLE, dbname), connect_timeout=10).close()


def _role_settings(stack, role: str) -> dict[str, str]:
    with psycopg.connect(stack.admin_dsn, autocommit=True) as conn:
        row = conn.execute("SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
                           "WHERE r.rolname = %s AND s.setdatabase = 0", (role,)).fetchone()
    return dict(item.split("=", 1) for item in (row[0] if row else []))


def test_an_idle_analyst_session_is_ended_by_the_server(stack, monkeypatch):
    """With the analyst's idle_session_timeout made short (env override, applied by the stack's bootstrap),
    the server closes an idle analyst connection; the default is restored afterwards and checked."""
    postgres = stack.stack.postgres
    monkeypatch.setenv("RADIOLAKE_PG_IDLE_SESSION_TIMEOUT_MS", "1000")
    try:
        postgres.bootstrap()
        conn = psycopg.connect(stack.analyst_dsn, autocommit=True)
        try:
            assert conn.execute("SHOW idle_session_timeout").fetchone()[0] == "1s"
            # wait (bounded) for the server to send its FATAL and close the socket
            readable, _, _ = select.select([conn.fileno()], [], [], 300)
            assert readable, "the server never ended the idle analyst session"
            with pytest.raises(psycopg.OperationalError, match="idle-session timeout"):
                conn.execute("SELECT 1")
        finally:
            conn.close()
    finally:
        monkeypatch.delenv("RADIOLAKE_PG_IDLE_SESSION_TIMEOUT_MS")
        postgres.bootstrap()
    analyst = _role_settings(stack, ANALYST_ROLE)
    assert analyst["idle_session_timeout"] == f"{ROLE_LIMITS_MS[ANALYST_ROLE]['idle_session_timeout']}ms"
    # the pipeline role holds its session locks on idle connections while dbt or an ingest runs
    assert "idle_session_timeout" not in _role_settings(stack, WAREHOUSE_ROLE)


def test_compose_init_lock_down_sql_restricts_a_fresh_database(stack):
    """The DO block of docker/postgres/init (compose) run on a database fresh from template0, where PUBLIC
    still holds EXECUTE: afterwards only the pipeline roles may take advisory locks there."""
    script = (repo_root() / "docker" / "postgres" / "init" / "10-radiolake-roles.sh").read_text()
    block = re.search(r"^DO \$\$.*?^\$\$;$", script, re.S | re.M)
    assert block, "no DO block in the compose init"
    admin = stack.stack.postgres
    scratch = "radiolake_lockdown_check"
    with psycopg.connect(admin.dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
    try:
        with psycopg.connect(admin.dsn(dbname=scratch), autocommit=True) as conn:
            query = ("SELECT bool_or(has_function_privilege(%s, p.oid, 'EXECUTE')), "
                     "bool_and(has_function_privilege(%s, p.oid, 'EXECUTE')) FROM pg_proc p "
                     "WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE '%%advisory%%'")
            before = conn.execute(query, (ANALYST_ROLE, WAREHOUSE_ROLE)).fetchone()
            conn.execute(block.group(0))
            after = conn.execute(query, (ANALYST_ROLE, WAREHOUSE_ROLE)).fetchone()
    finally:
        with psycopg.connect(admin.dsn(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(scratch)))
    assert before == (True, True)
    assert after == (False, True)


def test_grants_warn_when_a_database_still_lets_the_analyst_lock(stack, caplog):
    """A warehouse set up without the superuser's lock-down (terraform, an older compose volume) is named in
    the log of every grant run; the stack's lock-down, applied again, silences it."""
    admin = stack.stack.postgres
    with psycopg.connect(admin.dsn(dbname=WAREHOUSE_DB), autocommit=True) as conn:
        conn.execute("GRANT EXECUTE ON FUNCTION pg_advisory_lock(bigint) TO PUBLIC")
    try:
        with caplog.at_level(logging.WARNING, logger="radiolake.warehouse.grants"):
            grant_analyst(stack.settings.warehouse_dsn)
        assert any("may take the pipeline's advisory locks" in r.getMessage() for r in caplog.records)
    finally:
        lock_down(lambda db: admin.dsn(dbname=db))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="radiolake.warehouse.grants"):
        grant_analyst(stack.settings.warehouse_dsn)
    assert not any("advisory" in r.getMessage() for r in caplog.records)
