"""Issue 24 item 6: the warehouse DAG validates the Asset event extras it loads, like Params.

Anyone who may create asset events (REST `POST /assets/events`) sets their `extra`. A `prefix` outside the
xmatch bucket's run layout (`s3://<xmatch>/<run_id>`) or a `run_id` that breaks the run-id rule fails the
load task with a message naming the extra, before any run is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from radiolake.config import Settings
from radiolake.run_params import RunParamError
from radiolake.warehouse import steps
from radiolake.warehouse.steps import runs_to_load

SETTINGS = Settings(home=Path("/tmp/unused"), s3_endpoint="", s3_access_key="", s3_secret_key="")


@dataclass
class Event:
    extra: dict
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))


def events(*extras: dict) -> dict:
    return {"s3://xmatch/runs": [Event(e) for e in extras]}


@pytest.mark.parametrize("extra", [
    {"prefix": "s3://reports/r1"},
    {"prefix": "s3://xmatch/../reports"},
    {"prefix": "s3://xmatch/.."},
    {"prefix": "xmatch/a/b"},
    {"prefix": "runs/r2"},
    {"prefix": "/etc"},
    {"prefix": "file:///etc/passwd"},
    {"prefix": 5},
    {"run_id": ".."},
    {"run_id": "../reports/x"},
    {"run_id": "a b"},
    {"run_id": ["r1"]},
    {"run_id": "r1", "prefix": "s3://xmatch/r2"},
])
def test_bad_extras_are_refused_naming_the_extra(extra):
    with pytest.raises(RunParamError, match="asset event extra"):
        runs_to_load({}, events(extra), SETTINGS)


def test_good_extras_load_the_runs_in_the_xmatch_layout():
    got = runs_to_load({}, events({"run_id": "r1", "prefix": "s3://xmatch/r1"}, {"prefix": "xmatch/r2/"},
                                  {"run_id": "r3"}), SETTINGS)
    assert got == ["s3://xmatch/r1", "s3://xmatch/r2", "s3://xmatch/r3"]


def test_the_param_run_id_is_checked_again_in_python():
    with pytest.raises(RunParamError, match="run id"):
        runs_to_load({"run_id": ".."}, None, SETTINGS)


def test_one_bad_extra_loads_nothing(monkeypatch):
    loaded = []
    monkeypatch.setattr(steps, "get_settings", lambda: SETTINGS)
    monkeypatch.setattr(steps, "load_run", lambda uri, settings=None: loaded.append(uri))
    with pytest.raises(RunParamError, match="asset event extra"):
        steps.load_task({}, events({"run_id": "good"}, {"prefix": "s3://reports/x"}))
    assert loaded == []
