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
