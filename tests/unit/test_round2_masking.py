"""Issue 24 item 9: masking covers every secret-named KEY=value (case-insensitive), and AirflowClient's repr
hides the admin password (a failing test printed it)."""

from __future__ import annotations

import pytest

from radiolake.app.airflow_client import AirflowClient
from radiolake.masking import mask_secrets


@pytest.mark.parametrize(("text", "expected"), [
    ("warehouse_password=hunter2 next", "warehouse_password=*** next"),
    ("MINIO_ROOT_PASSWORD=rootpw", "MINIO_ROOT_PASSWORD=***"),
    ("PGPASSWORD=pg-secret psql -h x", "PGPASSWORD=*** psql -h x"),
    ("--conf spark.authenticate.secret=sp4rk --conf x=1", "--conf spark.authenticate.secret=*** --conf x=1"),
    ("SPARK_AUTHENTICATE_SECRET=sp4rk", "SPARK_AUTHENTICATE_SECRET=***"),
    ("RADIOLAKE_SPARK_AUTH_SECRET=abc", "RADIOLAKE_SPARK_AUTH_SECRET=***"),
    ("AIRFLOW__API_AUTH__JWT_SECRET=jwt", "AIRFLOW__API_AUTH__JWT_SECRET=***"),
    ("AIRFLOW__CORE__FERNET_KEY=fk=", "AIRFLOW__CORE__FERNET_KEY=***"),
    ("GITHUB_TOKEN: ghp_x", "GITHUB_TOKEN: ***"),
    ('{"warehouse_password": "wpw", "user": "u"}', '{"warehouse_password": "***", "user": "u"}'),
    ("Api-Key=k1", "Api-Key=***"),
    # not secrets: object keys, access key ids, plain words
    ("key=xmatch/run-1/matches.parquet", "key=xmatch/run-1/matches.parquet"),
    ("RADIOLAKE_S3_ACCESS_KEY=radiolake", "RADIOLAKE_S3_ACCESS_KEY=radiolake"),
    ("the password is checked", "the password is checked"),
])
def test_secret_named_keys_are_masked(text, expected):
    assert mask_secrets(text) == expected


def test_airflow_client_repr_hides_the_password():
    client = AirflowClient("http://127.0.0.1:8080", "admin", "Adm1n-pa55word")
    for shown in (repr(client), str(client), f"{client}", repr([client])):
        assert "Adm1n-pa55word" not in shown
        assert "admin" in shown and "127.0.0.1:8080" in shown
    assert client.password == "Adm1n-pa55word"


def test_the_spark_auth_secret_is_registered_with_airflows_masker(monkeypatch):
    from airflow.sdk._shared.secrets_masker.secrets_masker import _secrets_masker

    from radiolake.masking import mask_task_secrets

    monkeypatch.setenv("RADIOLAKE_SPARK_AUTH_SECRET", "sp4rk-Auth-9f3e")
    mask_task_secrets()
    assert "sp4rk-Auth-9f3e" not in str(_secrets_masker().redact("spark secret sp4rk-Auth-9f3e in a message"))
