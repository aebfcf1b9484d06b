"""terraform/: formatted, parseable, secret-free, and declaring the same buckets and roles as the code.

Providers cannot be downloaded here, so `terraform validate` is out; `terraform fmt -check` (real
terraform) plus a python-hcl2 parse and a declared-names check against radiolake.config stand in.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import hcl2
import pytest
from static_support import REPO, TERRAFORM_DIR, radiolake_names_read_by_code, unquote

from radiolake.config import (
    AIRFLOW_DB,
    AIRFLOW_ROLE,
    ANALYST_ROLE,
    DEFAULT_BUCKETS,
    WAREHOUSE_DB,
    WAREHOUSE_ROLE,
)

WAREHOUSE_SCHEMAS = {"load", "staging", "intermediate", "marts"}
POSTGRES_INIT = REPO / "docker" / "postgres" / "init" / "10-radiolake-roles.sh"


def parsed() -> dict[str, list]:
    """All .tf files merged: block type -> list of blocks."""
    merged: dict[str, list] = {}
    for path in sorted(TERRAFORM_DIR.glob("*.tf")):
        with path.open() as fh:
            for block_type, blocks in unquote(hcl2.load(fh)).items():
                merged.setdefault(block_type, []).extend(blocks)
    return merged


def resources(kind: str) -> dict[str, dict]:
    return {
        name: body for block in parsed()["resource"] if kind in block for name, body in block[kind].items()
    }


def variables() -> dict[str, dict]:
    return {name: body for block in parsed()["variable"] for name, body in block.items()}


def test_terraform_fmt_check():
    terraform = shutil.which("terraform")
    assert terraform, "terraform is preinstalled on this machine kind (/usr/local/bin/terraform)"
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    proc = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, f"not formatted: {proc.stdout} {proc.stderr}"


def test_required_providers_are_the_issue_s():
    providers = parsed()["terraform"][0]["required_providers"][0]
    assert providers["minio"]["source"] == "aminueza/minio"
    assert providers["postgresql"]["source"] == "cyrilgdn/postgresql"


def test_buckets_are_the_ones_the_code_uses():
    assert variables()["buckets"]["default"] == DEFAULT_BUCKETS
    bucket = resources("minio_s3_bucket")["lake"]
    assert bucket["for_each"] == "${var.buckets}" and bucket["acl"] == "private"


def test_pipeline_policy_matches_the_compose_init_job():
    proc = subprocess.run(
        ["sh", str(REPO / "docker" / "minio" / "init.sh"), "--print-policy"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    compose_policy = json.loads(proc.stdout)
    compose_actions = {a for s in compose_policy["Statement"] for a in s["Action"]}
    compose_resources = {r for s in compose_policy["Statement"] for r in s["Resource"]}
    assert compose_resources == {
        f"arn:aws:s3:::{b}{suffix}" for b in DEFAULT_BUCKETS.values() for suffix in ("", "/*")
    }
    assert not any("*" in a for a in compose_actions), "the pipeline gets named actions, no wildcards"
    terraform_actions = set(re.findall(r'"(s3:[A-Za-z*]+)"', (TERRAFORM_DIR / "minio.tf").read_text()))
    assert terraform_actions == compose_actions
    attachment = resources("minio_iam_user_policy_attachment")["pipeline"]
    assert attachment["user_name"] == "${minio_iam_user.pipeline.id}"
    assert attachment["policy_name"] == "${minio_iam_policy.pipeline.id}"


def test_policy_render_follows_configured_bucket_names():
    env = {"PATH": os.environ["PATH"], "RADIOLAKE_BUCKET_RAW": "survey-raw"}
    proc = subprocess.run(
        ["sh", str(REPO / "docker" / "minio" / "init.sh"), "--print-policy"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env=env,
    )
    resources_ = {r for s in json.loads(proc.stdout)["Statement"] for r in s["Resource"]}
    assert "arn:aws:s3:::survey-raw/*" in resources_ and "arn:aws:s3:::raw" not in resources_


def test_roles_databases_and_schemas_match_the_code():
    roles = {body["name"]: body for body in resources("postgresql_role").values()}
    assert set(roles) == {WAREHOUSE_ROLE, AIRFLOW_ROLE, ANALYST_ROLE}
    assert all(body["login"] is True for body in roles.values())
    dbs = {body["name"]: body["owner"] for body in resources("postgresql_database").values()}
    assert dbs == {
        WAREHOUSE_DB: "${postgresql_role.radiolake.name}",
        AIRFLOW_DB: "${postgresql_role.airflow.name}",
    }
    schema = resources("postgresql_schema")["warehouse"]
    assert "for_each" in schema and set(re.findall(r'"(\w+)"', schema["for_each"])) == WAREHOUSE_SCHEMAS
    grants = resources("postgresql_grant")
    assert grants["analyst_connect"] == {
        "database": "${postgresql_database.warehouse.name}",
        "role": "${postgresql_role.analyst.name}",
        "object_type": "database",
        "privileges": ["CONNECT"],
    }
    granted = [g for g in grants.values() if g["privileges"]]
    assert len(granted) == 1, "nothing but the analyst's CONNECT is granted here"


def test_public_keeps_no_connect_or_temp_on_any_database():
    # PostgreSQL gives PUBLIC CONNECT and TEMPORARY on every new database; an empty privilege list revokes them.
    grants = resources("postgresql_grant")
    revoke = grants["revoke_public_database"]
    assert revoke["role"] == "public" and revoke["object_type"] == "database" and revoke["privileges"] == []
    assert set(re.findall(r"postgresql_database\.(\w+)\.name", revoke["for_each"])) == {"warehouse", "airflow"}
    schema = grants["revoke_public_schema"]
    assert (schema["role"], schema["object_type"], schema["schema"], schema["privileges"]) == (
        "public", "schema", "public", [])


def test_roles_have_no_cluster_wide_rights():
    for body in resources("postgresql_role").values():
        for right in ("superuser", "create_database", "create_role", "replication", "bypass_row_level_security"):
            assert body.get(right) is False, f"role {body['name']}: set {right} = false explicitly"


def test_compose_postgres_init_declares_the_same_names():
    sql = POSTGRES_INIT.read_text()
    assert set(re.findall(r"CREATE ROLE (\w+) LOGIN", sql)) == {WAREHOUSE_ROLE, AIRFLOW_ROLE, ANALYST_ROLE}
    assert dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql)) == {
        WAREHOUSE_DB: WAREHOUSE_ROLE,
        AIRFLOW_DB: AIRFLOW_ROLE,
    }
    assert (
        set(re.findall(r"CREATE SCHEMA IF NOT EXISTS (\w+) AUTHORIZATION radiolake", sql))
        == WAREHOUSE_SCHEMAS
    )
    assert not re.search(r"GRANT (?!CONNECT)\w+.* TO analyst", sql), (
        "analyst gets nothing beyond CONNECT here"
    )


@pytest.mark.parametrize(
    "name",
    [
        "minio_root_password",
        "pipeline_secret_key",
        "postgres_admin_password",
        "warehouse_password",
        "airflow_db_password",
        "analyst_password",
    ],
)
def test_secret_variables_have_no_default_and_are_sensitive(name):
    var = variables()[name]
    assert var.get("sensitive") is True and "default" not in var


def test_no_secret_literal_in_any_terraform_file():
    for path in TERRAFORM_DIR.rglob("*"):
        if path.is_file() and ".terraform" not in path.parts:
            text = path.read_text()
            assert not re.search(r"(password|secret)\w*\s*=\s*\"[^\"$]", text, re.IGNORECASE), path.name


def test_outputs_use_the_names_the_pipeline_reads():
    outputs = {name: body for block in parsed()["output"] for name, body in block.items()}
    assert {"s3_endpoint", "s3_access_key", "buckets", "warehouse_dsn", "radiolake_env"} <= set(outputs)
    assert outputs["warehouse_dsn"]["sensitive"] is True and outputs["radiolake_env"]["sensitive"] is True
    exact, _ = radiolake_names_read_by_code()
    env_keys = set(re.findall(r"(RADIOLAKE_[A-Z_]+[A-Z])\s*=", (TERRAFORM_DIR / "outputs.tf").read_text()))
    assert env_keys and env_keys <= exact
