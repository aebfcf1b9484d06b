"""Issue 24 item 4: run ids `.` and `..` (or any id of dots only) never name a folder of the lake.

`safe_run_id` turned an Airflow run id into a folder name by replacing odd characters, and kept `..`, so a
trigger user who picked the run id `..` got results written to `s3://xmatch/..`. Every place a run id is
checked uses one rule (run_params.NAME_PATTERN): the DAG Params, `safe_run_id`, the dbt macro.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from radiolake.crossmatch.runner import safe_run_id
from radiolake.run_params import NAME_PATTERN, RunParamError, check_run_id

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("raw", [".", "..", "...", "./..", "-..-", "..:", "/..", ".hidden", "x" * 200])
def test_safe_run_id_refuses_dots_and_names_that_leave_the_bucket(raw):
    with pytest.raises(RunParamError, match="run id"):
        safe_run_id(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("manual__2026-12-07T04:21:02.123456+00:00", "manual__2026-12-07T04-21-02.123456-00-00"),
    ("my.run-1", "my.run-1"),
    ("a..b", "a..b"),
])
def test_safe_run_id_keeps_airflow_ids_usable(raw, expected):
    assert safe_run_id(raw) == expected


def test_safe_run_id_names_a_fresh_run_when_none_is_given():
    assert re.fullmatch(NAME_PATTERN, safe_run_id(None))


@pytest.mark.parametrize("bad", [".", "..", "....", "../x", "x/y", "", " x", None, 5, "a" * 129])
def test_check_run_id_refuses(bad):
    with pytest.raises(RunParamError, match="run id"):
        check_run_id(bad)


def test_check_run_id_keeps_good_ids():
    assert check_run_id("run-1.2_x") == "run-1.2_x"


def test_the_dbt_macro_uses_the_same_pattern():
    """dbt cannot import Python, so the macro spells the pattern out; it must be the declared one."""
    macro = (REPO / "dbt" / "macros" / "check_scope.sql").read_text()
    used = re.findall(r"modules\.re\.fullmatch\('([^']+)'", macro)
    assert used == [NAME_PATTERN.removeprefix("^").removesuffix("$")]


def test_the_dags_declare_the_run_id_param_with_the_shared_pattern():
    from radiolake.run_param_surfaces import airflow_params

    assert airflow_params("warehouse_dag")["run_id"].schema["pattern"] == NAME_PATTERN
    for dag in ("warehouse.py",):
        text = (REPO / "dags" / dag).read_text()
        assert 'params=airflow_params("warehouse_dag")' in text and "r\"^[" not in text
