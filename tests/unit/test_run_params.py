"""Run parameters reach dbt only as checked numbers; the DAGs declare every cut as a typed Param."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest

from radiolake.run_param_surfaces import airflow_params
from radiolake.run_params import CUT_NAMES, CUTS, RunParamError, dbt_cut_vars, warn_unknown
from radiolake.warehouse.steps import dbt_vars

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.mark.parametrize("value", ["(select 1/0)", "3", True, [1], {"a": 1}, math.nan, math.inf, -math.inf])
def test_sql_or_non_numbers_in_a_cut_never_reach_dbt(value):
    """The issue's attack ({"grade_a_max_sigma": "(select 1/0)"} in a run's conf), on a declared cut."""
    with pytest.raises(RunParamError, match="grade_a_min_probability"):
        dbt_vars({"grade_a_min_probability": value})


def test_out_of_bounds_cuts_are_refused_with_the_bound():
    with pytest.raises(RunParamError, match="below its minimum 0"):
        dbt_cut_vars({"parallax_snr_min": -1})
    with pytest.raises(RunParamError, match="above its maximum 1"):
        dbt_cut_vars({"grade_b_min_probability": 2})


def test_numbers_pass_unchanged_and_unset_cuts_are_left_to_dbt():
    assert dbt_cut_vars({"run_id": "x", "grade_a_min_parallax_snr": 2.5, "parallax_snr_min": 3,
                         "grade_b_min_probability": None}) == {"grade_a_min_parallax_snr": 2.5,
                                                              "parallax_snr_min": 3}


def test_every_cut_is_a_nullable_bounded_number():
    for cut in CUTS:
        schema = cut.schema()
        assert schema["type"] == ["null", "number"]
        assert schema["minimum"] == 0


def test_unknown_conf_keys_are_named_in_a_warning(caplog):
    caplog.set_level("WARNING")
    assert warn_unknown({"region": "all", "evil": 1, "zzz": 2}, ["region"], "radiolake_pipeline") == ["evil", "zzz"]
    assert "evil, zzz" in caplog.text and "radiolake_pipeline" in caplog.text


def _dag_surfaces(path: Path) -> set[str]:
    """The run_params surfaces a DAG file builds its Params from (`params=airflow_params("<surface>")`)."""
    tree = ast.parse(path.read_text())
    return {node.value.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.keyword) and node.arg == "params" and isinstance(node.value, ast.Call)
            and getattr(node.value.func, "id", "") == "airflow_params"}


@pytest.mark.parametrize(("dag_file", "surface"), [("pipeline.py", "pipeline"), ("warehouse.py", "warehouse_dag")])
def test_dags_that_build_marts_declare_every_cut(dag_file, surface):
    assert _dag_surfaces(DAGS / dag_file) == {surface}
    assert set(CUT_NAMES) <= set(airflow_params(surface))


@pytest.mark.parametrize("value", [1e-05, 0.001, 3, 2.5, 1e20, 0.0])
def test_cuts_reach_dbt_as_numbers_after_yaml_parsing(value):
    """dbt reads --vars as YAML 1.1, where `1e-05` is a string: the runner writes numbers YAML keeps."""
    import yaml

    from radiolake.warehouse.dbt_runner import vars_text

    parsed = yaml.safe_load(vars_text({"grade_a_min_probability": value}))["grade_a_min_probability"]
    assert isinstance(parsed, int | float) and not isinstance(parsed, bool)
    assert parsed == value


def test_check_runs_var_takes_run_ids_only():
    from radiolake.run_params import CHECK_RUNS_VAR, RunParamError, dbt_check_runs_vars

    assert dbt_check_runs_vars(None) == {} and dbt_check_runs_vars([]) == {}
    assert dbt_check_runs_vars(["run-b", "run_a.1", "run-b"]) == {CHECK_RUNS_VAR: ["run-b", "run_a.1"]}
    for bad in ["x') or true --", "", "../x", "a b", 3]:
        with pytest.raises(RunParamError, match="cannot scope the dbt tests"):
            dbt_check_runs_vars([bad])
