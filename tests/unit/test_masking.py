"""Secrets are masked in printed DSNs, URLs, config dumps and log records."""

from __future__ import annotations

import logging

import pytest

from radiolake.config import postgres_dsn
from radiolake.masking import MaskingFilter, mask_secrets


@pytest.mark.parametrize(("text", "expected"), [
    (postgres_dsn("radiolake", "s3cr/et@x", "127.0.0.1", 5432, "warehouse"),
     "postgresql://radiolake:***@127.0.0.1:5432/warehouse"),
    ("Warehouse DSN  postgresql://analyst:Zq9-_x@127.0.0.1:1/warehouse  ok",
     "Warehouse DSN  postgresql://analyst:***@127.0.0.1:1/warehouse  ok"),
    ("host=127.0.0.1 user=radiolake password=hunter2 dbname=w", "host=127.0.0.1 user=radiolake password=*** dbname=w"),
    ('{"s3_secret_key": "abc123", "s3_access_key": "AK"}', '{"s3_secret_key": "***", "s3_access_key": "AK"}'),
    ("http://127.0.0.1:8080/api/v2 and s3://raw/x", "http://127.0.0.1:8080/api/v2 and s3://raw/x"),
])
def test_mask_secrets(text, expected):
    assert mask_secrets(text) == expected


def test_log_records_are_masked(caplog):
    logger = logging.getLogger("radiolake.test.masking")
    caplog.handler.addFilter(MaskingFilter())
    caplog.set_level("INFO")
    logger.info("connecting to %s", "postgresql://radiolake:topsecret@127.0.0.1:5/warehouse")
    assert "topsecret" not in caplog.text
    assert "postgresql://radiolake:***@127.0.0.1:5/warehouse" in caplog.text


def test_task_secrets_are_registered_with_airflows_masker(monkeypatch):
    """Task logs go through Airflow's masker: the warehouse and S3 secrets must be known to it."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    from radiolake.masking import mask_task_secrets

    dsn = postgres_dsn("radiolake", "wh-Pass/9", "127.0.0.1", 5432, "warehouse")
    monkeypatch.setenv("RADIOLAKE_WAREHOUSE_DSN", dsn)
    monkeypatch.setenv("RADIOLAKE_S3_SECRET_KEY", "s3-SeCrEt-key")
    mask_task_secrets()
    redacted = str(_secrets_masker().redact(f"connecting to {dsn} with s3-SeCrEt-key"))
    assert "wh-Pass" not in redacted and "wh-Pass%2F9" not in redacted and "s3-SeCrEt-key" not in redacted
