"""Configuration parsing: env first, state directory second, clear errors for bad values."""

import json

import pytest

from radiolake.config import ConfigError, get_settings, parse_port, postgres_dsn


def test_parse_port_accepts_valid_and_unset():
    assert parse_port("X", "5432") == 5432
    assert parse_port("X", " 8080 ") == 8080
    assert parse_port("X", None) is None
    assert parse_port("X", "") is None


@pytest.mark.parametrize("bad", ["http", "0", "70000", "-1", "12.5"])
def test_parse_port_rejects_and_names_the_variable(bad):
    with pytest.raises(ConfigError, match="RADIOLAKE_PG_PORT"):
        parse_port("RADIOLAKE_PG_PORT", bad)


def test_env_wins_over_state_dir(tmp_path):
    (tmp_path / "ports.json").write_text(json.dumps({"s3": 1111, "postgres": 2222, "airflow": 3333}))
    (tmp_path / "secrets.json").write_text(json.dumps(
        {"s3_access_key": "state-ak", "s3_secret_key": "state-sk", "warehouse_password": "pw"}))
    s = get_settings({"RADIOLAKE_HOME": str(tmp_path), "RADIOLAKE_S3_ENDPOINT": "http://minio:9000",
                      "RADIOLAKE_S3_ACCESS_KEY": "env-ak", "RADIOLAKE_BUCKET_RAW": "my-raw"})
    assert s.s3_endpoint == "http://minio:9000"
    assert s.s3_hostport == "minio:9000" and not s.s3_secure
    assert s.s3_access_key == "env-ak"
    assert s.s3_secret_key == "state-sk"  # not in env: falls back to the state dir
    assert s.bucket("raw") == "my-raw" and s.bucket("catalogs") == "catalogs"
    assert s.warehouse_dsn == "postgresql://radiolake:pw@127.0.0.1:2222/warehouse"
    assert s.airflow_url == "http://127.0.0.1:3333"


def test_state_dir_alone_gives_embedded_endpoints(tmp_path):
    (tmp_path / "ports.json").write_text(json.dumps({"s3": 1111}))
    s = get_settings({"RADIOLAKE_HOME": str(tmp_path)})
    assert s.s3_endpoint == "http://127.0.0.1:1111"
    assert s.spark_master == "local[*]"
    assert s.warehouse_dsn == ""  # no password known: no DSN invented


def test_missing_configuration_fails_clearly(tmp_path):
    s = get_settings({"RADIOLAKE_HOME": str(tmp_path)})
    with pytest.raises(ConfigError, match="RADIOLAKE_S3_ENDPOINT"):
        s.require_s3()
    with pytest.raises(ConfigError, match="RADIOLAKE_WAREHOUSE_DSN"):
        s.require_warehouse()
    with pytest.raises(ConfigError, match="unknown bucket kind"):
        s.bucket("nope")


def test_pinned_port_env_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="RADIOLAKE_S3_PORT"):
        get_settings({"RADIOLAKE_HOME": str(tmp_path), "RADIOLAKE_S3_PORT": "abc"})


def test_dsn_quotes_special_characters():
    assert postgres_dsn("u", "p@ss/w:rd", "h", 1, "db") == "postgresql://u:p%40ss%2Fw%3Ard@h:1/db"


def test_a_printed_settings_shows_no_secret(tmp_path):
    from radiolake.config import Settings

    s = Settings(home=tmp_path, s3_endpoint="http://127.0.0.1:1", s3_access_key="AK", s3_secret_key="s3-very-secret",
                 warehouse_dsn="postgresql://radiolake:pg-very-secret@127.0.0.1:5432/warehouse")
    assert "s3-very-secret" not in repr(s) and "pg-very-secret" not in repr(s)
    assert "http://127.0.0.1:1" in repr(s)
