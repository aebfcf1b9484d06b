"""Compose and terraform give the bucket browser its own read-only object-store user (issue 24 item 5): a
policy that lists and reads the lake's buckets and nothing else, created by minio-init, held by the
api-server alone."""

from __future__ import annotations

import json
import os
import subprocess

import hcl2
from static_support import REPO, TERRAFORM_DIR, compose_resolved, read_env_file, unquote

from radiolake.buckets.access import ACCESS_KEY_ENV, SECRET_KEY_ENV
from radiolake.config import DEFAULT_BUCKETS

INIT = REPO / "docker" / "minio" / "init.sh"


def _browser_policy() -> dict:
    proc = subprocess.run(["sh", str(INIT), "--print-browser-policy"], capture_output=True, text=True, timeout=30,
                          check=True, env={"PATH": os.environ["PATH"]})
    return json.loads(proc.stdout)


def test_the_browser_policy_lists_and_reads_the_lake_and_writes_nothing():
    policy = _browser_policy()
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert actions == {"s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"}
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    assert resources == {f"arn:aws:s3:::{b}{sfx}" for b in DEFAULT_BUCKETS.values() for sfx in ("", "/*")}


def test_terraform_declares_the_same_read_only_user():
    parsed = hcl2.loads((TERRAFORM_DIR / "minio.tf").read_text())
    policies = {unquote(name): body for block in parsed["resource"] for kind, named in block.items()
                if unquote(kind) == "minio_iam_policy" for name, body in named.items()}
    text = json.dumps(policies["browser"])
    for action in ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"):
        assert action in text
    for forbidden in ("PutObject", "DeleteObject", "Multipart", "s3:*"):
        assert forbidden not in text


def test_only_the_api_server_and_minio_init_hold_the_browser_key():
    services = compose_resolved()["services"]
    holders = {name for name, s in services.items() if SECRET_KEY_ENV in (s.get("environment") or {})}
    # check-secrets (a one-shot gate that exits) refuses to start on its placeholder, as for every secret
    assert holders == {"airflow-apiserver", "minio-init", "check-secrets"}
    api = services["airflow-apiserver"]["environment"]
    env = read_env_file()
    assert api[ACCESS_KEY_ENV] == env[ACCESS_KEY_ENV] != env["RADIOLAKE_S3_ACCESS_KEY"]
    assert env[SECRET_KEY_ENV].startswith("change-me")
