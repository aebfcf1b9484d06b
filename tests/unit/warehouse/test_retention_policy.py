"""RADIOLAKE_RETENTION_* parsing: typed, bounded, and keeping everything unless set."""

import pytest

from radiolake.config import ConfigError
from radiolake.warehouse.retention import RetentionPolicy


def test_default_keeps_everything():
    policy = RetentionPolicy.from_env({})
    assert policy.keeps_everything and policy.pinned == frozenset()
    assert RetentionPolicy.from_env({"RADIOLAKE_RETENTION_RUNS": "all"}).keeps_everything


def test_values_are_parsed():
    policy = RetentionPolicy.from_env({"RADIOLAKE_RETENTION_RUNS": " 3 ", "RADIOLAKE_RETENTION_DAYS": "30.5",
                                       "RADIOLAKE_RETENTION_KEEP_RUNS": "a, b,,"})
    assert (policy.keep_runs, policy.keep_days, policy.pinned) == (3, 30.5, frozenset({"a", "b"}))
    assert not policy.keeps_everything


@pytest.mark.parametrize("name,value", [("RADIOLAKE_RETENTION_RUNS", "0"), ("RADIOLAKE_RETENTION_RUNS", "2.5"),
                                        ("RADIOLAKE_RETENTION_RUNS", "x; drop table"),
                                        ("RADIOLAKE_RETENTION_DAYS", "-1"), ("RADIOLAKE_RETENTION_DAYS", "nan")])
def test_bad_values_are_refused_by_name(name, value):
    with pytest.raises(ConfigError, match=name):
        RetentionPolicy.from_env({name: value})
