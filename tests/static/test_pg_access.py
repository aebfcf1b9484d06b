"""The compose Postgres init closes the pipeline's advisory locks and the system databases like the stack."""

from __future__ import annotations

import re
from pathlib import Path

from radiolake.config import AIRFLOW_DB, WAREHOUSE_DB
from radiolake.stack.pg_access import LOCK_ROLES, SYSTEM_DATABASES

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "docker" / "postgres" / "init" / "10-radiolake-roles.sh"


def test_compose_init_restricts_advisory_locks_in_every_database_to_the_pipeline_roles():
    text = INIT.read_text()
    loop = re.search(r"^for db in ([\w ]+); do$", text, re.M)
    assert loop, "no per-database loop in the compose init"
    assert set(loop.group(1).split()) == {*SYSTEM_DATABASES, WAREHOUSE_DB, AIRFLOW_DB}
    assert "REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC" in text
    granted = re.search(r"GRANT EXECUTE ON FUNCTION %s TO ([\w, ]+)'", text)
    assert granted and {r.strip() for r in granted.group(1).split(",")} == set(LOCK_ROLES)


def test_compose_init_closes_the_system_databases_to_public():
    text = INIT.read_text()
    for db in SYSTEM_DATABASES:
        assert f"REVOKE ALL ON DATABASE {db} FROM PUBLIC;" in text
