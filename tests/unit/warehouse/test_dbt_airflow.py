"""The dbt project as Airflow tasks (Cosmos), without services: how the DAGs render it, what reaches dbt's
command line, and when the manifest the rendering reads is made again."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from radiolake.config import repo_root
from radiolake.run_params import RunParamError
from radiolake.warehouse import dbt_airflow
from radiolake.warehouse.dbt_task import dbt_command, node_selection

DBT_DAGS = ("radiolake_pipeline", "warehouse")
#: Cosmos' WATCHER mode: the task that runs the one `dbt build`, and the gate after it (an EmptyOperator that
#: keeps a skipped producer retry from skipping what follows the group).
PRODUCER, WATCHER_GATE = "dbt.dbt_producer_watcher", "dbt.dbt_producer_watcher_done"


@pytest.fixture(scope="module")
def dags():
    from airflow.configuration import conf
    from airflow.dag_processing.dagbag import DagBag

    seconds = {}
    bags = {}
    dbt_airflow.ensure_manifest()  # as scripts/setup.sh does: a fresh manifest, so parsing never runs dbt
    for name in ("pipeline.py", "warehouse.py"):
        start = time.perf_counter()
        bags[name] = DagBag(dag_folder=str(repo_root() / "dags" / name))
        seconds[name] = time.perf_counter() - start
        assert bags[name].import_errors == {}
    return {d.dag_id: d for b in bags.values() for d in b.dags.values()}, seconds, conf.getfloat(
        "core", "dagbag_import_timeout")


def test_each_model_is_a_run_task_with_its_test_task_after_it(dags):
    by_id, _, _ = dags
    for dag_id in DBT_DAGS:
        dag = by_id[dag_id]
        tasks = {t.task_id: t for t in dag.tasks}
        models = {t.split(".")[1] for t in tasks if t.startswith("dbt.") and t.endswith(".run")}
        assert {"stg_pairs", "int_best_matches", "radio_star_candidates", "survey_summary", "radio_stars"} <= models
        for model in models:
            assert f"dbt.{model}.run" in tasks[f"dbt.{model}.test"].upstream_task_ids
        assert "dbt.int_best_matches.run" in tasks["dbt.stg_best.run"].get_flat_relative_ids(upstream=False)
        # tests that read several models wait for all of them
        grades = tasks["dbt.assert_radio_star_grades_follow_rules_test"]
        assert {"dbt.radio_stars.test", "dbt.radio_star_detections.test"} <= grades.get_flat_relative_ids(
            upstream=True)
        assert "load" in tasks["dbt.stg_pairs.run"].get_flat_relative_ids(upstream=True)
    pipeline = {t.task_id: t for t in by_id["radiolake_pipeline"].tasks}
    assert "dbt.radio_stars.test" in pipeline["report"].get_flat_relative_ids(upstream=True)


def test_dbt_tasks_run_radiolake_dbt_with_no_secret_in_their_arguments(dags):
    by_id, _, _ = dags
    for dag_id in DBT_DAGS:
        for task in by_id[dag_id].tasks:
            if not task.task_id.startswith("dbt.") or task.task_id == WATCHER_GATE:
                continue
            assert task.dbt_executable_path.endswith("radiolake-dbt")
            # where the warehouse is, for the Assets' names; the password is set by radiolake-dbt in dbt's
            # own environment only
            assert set(task.env) <= {"RADIOLAKE_DBT_HOST", "RADIOLAKE_DBT_PORT", "RADIOLAKE_DBT_DBNAME",
                                     "RADIOLAKE_DBT_USER", "RADIOLAKE_DBT_CHECK_RUNS"}
            assert task.vars == "{{ radiolake_dbt_vars(params) }}"
            # the tests check the runs the DAG run loaded (check_runs_text, below)
            assert task.env["RADIOLAKE_DBT_CHECK_RUNS"] == "{{ radiolake_check_runs(ti, params) }}"
            assert task.execution_timeout is not None


def asset_uris(condition) -> list[str]:
    """URIs of the Assets in a DAG's schedule condition (Asset, AssetAll, AssetAny, nested)."""
    if condition is None:
        return []
    if hasattr(condition, "uri"):
        return [condition.uri]
    return [uri for part in getattr(condition, "objects", []) for uri in asset_uris(part)]


def test_no_dag_is_scheduled_on_what_the_dbt_tasks_emit(dags):
    """Cosmos emits the marts as postgres:// Assets; no DAG waits for them, so no run wakes another DAG."""
    by_id, _, _ = dags
    from airflow.dag_processing.dagbag import DagBag

    every = DagBag(dag_folder=str(repo_root() / "dags")).dags.values()
    schedules = [uri for dag in every for uri in asset_uris(getattr(dag.timetable, "asset_condition", None))]
    assert schedules, "the warehouse and crossmatch DAGs are scheduled on Assets"
    assert not [u for u in schedules if u.startswith("postgres")]
    assert by_id["warehouse"].timetable.asset_condition is not None


def test_parsing_takes_far_less_than_airflows_import_timeout(dags):
    """Rendering reads the manifest: no database and no dbt call while the DAG processor parses."""
    _, seconds, timeout = dags
    assert max(seconds.values()) < timeout / 3, (seconds, timeout)


def test_vars_are_the_checked_cuts_as_yaml_numbers():
    assert dbt_airflow.cut_vars_text({"grade_b_min_probability": 0.7, "parallax_snr_min": None}) == (
        '{"grade_b_min_probability": 0.7}')
    assert dbt_airflow.cut_vars_text({"parallax_snr_min": 1e-05}) == '{"parallax_snr_min": 1.0e-05}'
    assert dbt_airflow.cut_vars_text(None) == "{}"
    for bad in ("(select 1/0)", float("nan"), True, 2.0):
        with pytest.raises(RunParamError, match="grade_a_min_probability"):
            dbt_airflow.cut_vars_text({"grade_a_min_probability": bad})


def test_lineage_env_has_where_the_warehouse_is_but_never_its_password(monkeypatch):
    monkeypatch.setenv("RADIOLAKE_WAREHOUSE_DSN", "postgresql://loader:s3cr3t@db.example:6543/wh")
    assert dbt_airflow.lineage_env() == {"RADIOLAKE_DBT_HOST": "db.example", "RADIOLAKE_DBT_PORT": "6543",
                                         "RADIOLAKE_DBT_DBNAME": "wh", "RADIOLAKE_DBT_USER": "loader"}


def test_the_producer_names_the_assets_after_the_warehouse_without_its_password(monkeypatch):
    """Cosmos reads the profile with the producer process's environment to name the marts' Assets."""
    from cosmos import ProfileConfig
    from cosmos.dataset import get_dataset_namespace

    monkeypatch.setenv("RADIOLAKE_WAREHOUSE_DSN", "postgresql://radiolake:s3cret@db.example:6543/warehouse")
    for name in ("RADIOLAKE_DBT_HOST", "RADIOLAKE_DBT_PORT", "RADIOLAKE_DBT_DBNAME", "RADIOLAKE_DBT_USER"):
        monkeypatch.setenv(name, "")  # restored after the test
    dbt_airflow.lineage_in_process({})
    root = dbt_airflow.project_dir()
    profile = ProfileConfig(profile_name=dbt_airflow.PROFILE, target_name=dbt_airflow.TARGET,
                            profiles_yml_filepath=root / "profiles.yml")
    assert get_dataset_namespace(profile) == "postgres://db.example:6543"
    others = {k: v for k, v in os.environ.items() if k != "RADIOLAKE_WAREHOUSE_DSN"}
    assert "s3cret" not in " ".join(others.values())  # the password stays where it was configured only


def test_radiolake_dbt_reads_the_command_and_the_node():
    args = ["run", "--select", "stg_pairs", "--vars", "{}", "--project-dir", "/tmp/x"]
    assert dbt_command(args) == "run"
    assert node_selection(args) == "run stg_pairs"
    assert dbt_command(["--no-partial-parse", "test", "-s", "radio_stars"]) == "test"
    assert node_selection(["--no-partial-parse", "test", "-s", "radio_stars"]) == "test radio_stars"


def test_the_manifest_is_made_again_only_when_the_project_changes(tmp_path):
    project = tmp_path / "dbt"
    shutil.copytree(repo_root() / "dbt", project, ignore=shutil.ignore_patterns("target", "logs"))
    manifest = dbt_airflow.ensure_manifest(project)
    assert manifest.is_file() and (project / "target" / "partial_parse.msgpack").is_file()
    made = manifest.stat().st_mtime_ns
    assert dbt_airflow.ensure_manifest(project).stat().st_mtime_ns == made  # unchanged: not parsed again

    (project / "models" / "marts" / "extra_mart.sql").write_text("select 1 as one\n")
    assert "model.radiolake.extra_mart" in dbt_airflow.ensure_manifest(project).read_text()

    (project / "models" / "marts" / "extra_mart.sql").write_text("select {{ broken(\n")
    with pytest.raises(dbt_airflow.DbtError, match="parse"):
        dbt_airflow.ensure_manifest(project)


class LoadXcom:
    """What `ti.xcom_pull(task_ids="load")` returns in a dbt task: the load task's return value."""

    def __init__(self, value):
        self.value = value

    def xcom_pull(self, task_ids):
        assert task_ids == dbt_airflow.LOAD_TASK
        return self.value


def test_the_tests_check_the_runs_the_dag_run_loaded():
    warehouse_dag_load = [{"run_id": "run-b", "rows": {}}, {"run_id": "run-a", "rows": {}}]
    assert dbt_airflow.check_runs_text(LoadXcom(warehouse_dag_load), {"run_id": None}) == '["run-a", "run-b"]'
    pipeline_load = {"run_id": "manual__2026-11-26T14.00.00", "rows": {}}
    assert dbt_airflow.check_runs_text(LoadXcom(pipeline_load)) == '["manual__2026-11-26T14.00.00"]'
    # load marked successful by hand (no XCom): the run the DAG run names; nothing named: every run
    assert dbt_airflow.check_runs_text(LoadXcom(None), {"run_id": "run-c"}) == '["run-c"]'
    assert dbt_airflow.check_runs_text(LoadXcom(None), {"run_id": None}) == "[]"
    assert dbt_airflow.check_runs_text(LoadXcom([]), {}) == "[]"


def test_a_run_id_that_is_not_one_never_reaches_dbt():
    with pytest.raises(RunParamError, match="cannot scope the dbt tests"):
        dbt_airflow.check_runs_text(LoadXcom({"run_id": "x') or true --"}))
    with pytest.raises(RunParamError):
        dbt_airflow.check_runs_text(LoadXcom(None), {"run_id": "a b"})


def test_the_dbt_mode_is_a_setting_watcher_by_default_and_a_bad_one_is_named(monkeypatch):
    from radiolake.config import ConfigError, dbt_execution_mode

    assert dbt_execution_mode({}) == "watcher"
    assert dbt_execution_mode({"RADIOLAKE_DBT_EXECUTION_MODE": " Local "}) == "local"
    with pytest.raises(ConfigError, match="RADIOLAKE_DBT_EXECUTION_MODE='virtualenv' is not one of watcher, local"):
        dbt_execution_mode({"RADIOLAKE_DBT_EXECUTION_MODE": "virtualenv"})


def test_by_default_one_producer_runs_dbt_build_and_each_model_task_watches_it(dags):
    """WATCHER (the default): one task runs `dbt build` through radiolake-dbt, ahead of every watching task;
    each model keeps its own run and test task."""
    from cosmos.operators.watcher import DbtProducerWatcherOperator, DbtRunWatcherOperator, DbtTestWatcherOperator

    by_id, _, _ = dags
    for dag_id in DBT_DAGS:
        tasks = {t.task_id: t for t in by_id[dag_id].tasks}
        producer = tasks[PRODUCER]
        assert isinstance(producer, DbtProducerWatcherOperator) and producer.base_cmd == ["build"]
        assert producer.dbt_executable_path.endswith("radiolake-dbt")
        assert producer.upstream_task_ids == {"load"} and tasks[WATCHER_GATE].upstream_task_ids == {PRODUCER}
        # the first watchers follow the build's gate, and run when it failed (each takes its own node's status)
        first = tasks["dbt.load_pairs_source"]
        assert first.upstream_task_ids == {"load", WATCHER_GATE}
        assert first.trigger_rule == "all_done_min_one_success"
        assert producer._freshness_callback is dbt_airflow.source_states
        assert producer._pre_execute_hook is dbt_airflow.lineage_in_process  # the Assets name the warehouse
        assert isinstance(tasks["dbt.radio_stars.run"], DbtRunWatcherOperator)
        assert isinstance(tasks["dbt.radio_stars.test"], DbtTestWatcherOperator)
        assert tasks["dbt.radio_stars.run"].retries > 0  # a model's task retries by running that model alone
        # a test of several models (a task of its own) is published under the key its task reads
        grades = tasks["dbt.assert_radio_star_grades_follow_rules_test"]
        assert producer.tests_per_model[grades.model_unique_id] == [grades.model_unique_id]
        # and only there: a model's test task takes the tests of that model alone, as under the local mode
        relationship = tasks["dbt.relationships_stg_pairs_star_key__star_key__ref_stg_stars__test"].model_unique_id
        assert relationship not in producer.tests_per_model["model.radiolake.stg_pairs"]
        assert producer.tests_per_model["model.radiolake.stg_pairs"]  # its single-model tests


def test_the_local_mode_renders_the_same_model_tasks_without_a_producer(monkeypatch, dags):
    from airflow.dag_processing.dagbag import DagBag

    by_id, _, _ = dags
    monkeypatch.setenv("RADIOLAKE_DBT_EXECUTION_MODE", "local")
    local = DagBag(dag_folder=str(repo_root() / "dags" / "warehouse.py")).dags["warehouse"]
    watched = {t.task_id for t in by_id["warehouse"].tasks} - {PRODUCER, WATCHER_GATE}
    assert {t.task_id for t in local.tasks} == watched
    assert {type(t).__name__ for t in local.tasks if t.task_id.endswith(".run")} == {"DbtRunLocalOperator"}


class _Node:
    def __init__(self, resource_type: str, depends_on: tuple[str, ...] = ()):
        from cosmos.constants import DbtResourceType

        self.resource_type = DbtResourceType(resource_type)
        self.depends_on = list(depends_on)


def test_sources_pass_unless_their_freshness_is_an_error_which_leaves_out_what_reads_them():
    """As the per-source tasks of the local mode: a warning passes (Cosmos' default would skip its models), a
    source with no freshness check passes at once, an error fails its task and its models leave the build."""
    nodes = {"source.p.load.runs": _Node("source"), "source.p.load.pairs": _Node("source"),
             "source.p.load.best": _Node("source"),
             "model.p.stg_runs": _Node("model", ("source.p.load.runs",)),
             "model.p.stg_pairs": _Node("model", ("source.p.load.pairs",))}
    warned = {"results": [{"unique_id": "source.p.load.runs", "status": "warn"}]}
    assert sorted(dbt_airflow.source_states(None, None, None, nodes, warned)) == [
        ("source.p.load.best", "pass"), ("source.p.load.pairs", "pass")]
    failed = {"results": [{"unique_id": "source.p.load.pairs", "status": "error"}]}
    assert sorted(dbt_airflow.source_states(None, None, None, nodes, failed)) == [
        ("model.p.stg_pairs", "skipped"), ("source.p.load.best", "pass"), ("source.p.load.runs", "pass")]
