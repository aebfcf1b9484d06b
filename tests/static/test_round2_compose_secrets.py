"""Issue 24 item 9 (compose secrets): the secrets gate is case-insensitive, has a length rule, and Airflow
gets a Fernet key from a checked secret (connections and variables are encrypted in the metadata DB).

Before: `CHANGE-ME-...` passed the gate (the placeholder test was case-sensitive), a 1-character password
passed, and compose set no AIRFLOW__CORE__FERNET_KEY, so Airflow stored connection passwords in clear.
The check script runs for real (sh), as in test_compose_secrets.py.
"""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from static_support import REPO, compose_resolved, read_env_file
from test_compose_secrets import example_secrets, run_check

AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer")


def fernet_key() -> str:
    """What cryptography's Fernet.generate_key() returns: 32 random bytes, url-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def real_values() -> dict[str, str]:
    return {k: fernet_key() if k == "AIRFLOW_FERNET_KEY" else secrets.token_hex(12) for k in example_secrets()}


def test_real_values_pass():
    proc = run_check(real_values())
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("placeholder", ["CHANGE-ME-minio-root-password", "Change-Me-now-please-1234",
                                         "change-me"])
def test_placeholders_are_refused_in_any_case(placeholder):
    proc = run_check({**real_values(), "MINIO_ROOT_PASSWORD": placeholder})
    assert proc.returncode == 1
    assert proc.stderr.split("placeholder:")[1].split("\n")[0].split() == ["MINIO_ROOT_PASSWORD"]


def test_short_secrets_are_refused_by_name_never_by_value():
    proc = run_check({**real_values(), "POSTGRES_PASSWORD": "x", "ANALYST_DB_PASSWORD": "fifteen-chars-1"})
    assert proc.returncode == 1
    named = proc.stderr.split("shorter than 16 characters:")[1].split("\n")[0].split()
    assert named == ["POSTGRES_PASSWORD", "ANALYST_DB_PASSWORD"]
    assert "fifteen-chars-1" not in proc.stdout + proc.stderr


# Fixed ids: every xdist worker must collect the same test names, and these values are random.
@pytest.mark.parametrize("bad", [secrets.token_hex(24), "A" * 44, base64.urlsafe_b64encode(os.urandom(31)).decode()],
                         ids=["48-hex-chars", "44-chars-unpadded", "31-random-bytes"])
def test_the_fernet_key_must_be_a_fernet_key(bad):
    proc = run_check({**real_values(), "AIRFLOW_FERNET_KEY": bad})
    assert proc.returncode == 1
    assert "AIRFLOW_FERNET_KEY" in proc.stderr.split("not a Fernet key")[1].split("\n")[0]
    assert bad not in proc.stdout + proc.stderr


def test_compose_gives_airflow_the_checked_fernet_key():
    assert "AIRFLOW_FERNET_KEY" in read_env_file(), ".env.example names the secret"
    services = compose_resolved()["services"]
    assert "AIRFLOW_FERNET_KEY" in services["check-secrets"]["environment"]
    placeholder = read_env_file()["AIRFLOW_FERNET_KEY"]
    for name in AIRFLOW_SERVICES:
        assert services[name]["environment"]["AIRFLOW__CORE__FERNET_KEY"] == placeholder, name
    assert "AIRFLOW_FERNET_KEY" in (REPO / "docker" / "check-secrets.sh").read_text()
