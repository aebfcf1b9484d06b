"""The compose Postgres init and Terraform give the warehouse roles the same timeouts as the embedded stack."""

from __future__ import annotations

import re
from pathlib import Path

from radiolake.timeouts import ROLE_LIMITS_MS

REPO = Path(__file__).resolve().parents[2]


def test_compose_init_sets_every_role_limit():
    text = (REPO / "docker" / "postgres" / "init" / "10-radiolake-roles.sh").read_text()
    found = {(m[0], m[1]): int(m[2]) for m in re.findall(r"ALTER ROLE (\w+) SET (\w+) = '(\d+)ms';", text)}
    want = {(role, setting): ms for role, limits in ROLE_LIMITS_MS.items() for setting, ms in limits.items()}
    assert found == want


def test_terraform_roles_carry_the_statement_and_idle_limits():
    text = (REPO / "terraform" / "postgres.tf").read_text()
    for role, limits in ROLE_LIMITS_MS.items():
        block = re.search(rf'resource "postgresql_role" "{role}" \{{(.*?)\n\}}', text, re.S)
        assert block, role
        for setting in ("statement_timeout", "idle_in_transaction_session_timeout"):
            assert re.search(rf"\b{setting}\s*=\s*{limits[setting]}\b", block.group(1)), (role, setting)
