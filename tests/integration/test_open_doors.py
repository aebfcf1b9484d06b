"""Issue 10 (part A) against the real stack: file params, SQL from run conf, log servers, timeouts, masking.

Each test reproduces one way in that a user with only a trigger login (or a CLI) had, and checks it is
closed: the file is refused before anything is stored, the conf is refused at trigger time, nothing of
Airflow listens beyond 127.0.0.1, a stuck dbt build fails naming who it waited on, printed DSNs hide
their passwords.
"""

from __future__ import annotations

import psutil
import psycopg
import pytest
from typer.testing import CliRunner

from radiolake.app.airflow_client import AirflowRunFailed
from radiolake.import_paths import allowed_import_dirs
from radiolake.lake import arrow_fs, ensure_buckets
from radiolake.warehouse import dbt_runner
from tests.integration.airflow_runs import run_in_process

pytestmark = pytest.mark.integration


def _raw_objects(stack, survey: str) -> list[str]:
    import pyarrow.fs as pafs

    fs = arrow_fs(stack.settings)
    selector = pafs.FileSelector(f"{stack.settings.bucket('raw')}/{survey}", recursive=True, allow_not_found=True)
    return [i.path for i in fs.get_file_info(selector) if i.type == pafs.FileType.File]


def test_pipeline_file_param_outside_imports_is_refused_before_anything_is_stored(stack):
    """Issue item 1: {"path": "<state dir>/secrets.json"} stored the secrets as raw/srsc/<sha>/secrets.json."""
    from radiolake.app.pipeline import BadInputError, ingest_step

    ensure_buckets(stack.settings)
    secrets = stack.stack.state.secrets_file
    with pytest.raises(BadInputError, match="outside the folders allowed for imports") as err:
        ingest_step("radio", {"radio_survey": "srsc", "radio_path": str(secrets)})  # srsc is a radio survey
    assert str(allowed_import_dirs()[0]) in str(err.value)
    assert _raw_objects(stack, "srsc") == []


def test_ingest_dag_refuses_a_file_outside_imports_and_stores_nothing(stack):
    from airflow.models.dagbag import DagBag

    from radiolake.config import repo_root

    ensure_buckets(stack.settings)
    bag = DagBag(dag_folder=str(repo_root() / "dags" / "ingest.py"))
    dag = bag.get_dag("ingest_srsc")
    run = run_in_process(dag, {"region": "all", "path": "../secrets.json"})
    assert run.state == "failed"
    assert _raw_objects(stack, "srsc") == []


def test_cli_ingest_reads_from_the_imports_folder_only(stack, shared_data, tmp_path):
    from radiolake.app.cli import app

    outside = tmp_path / "SRSC_distances.csv"
    outside.write_bytes((shared_data / "SRSC_distances.csv").read_bytes())
    result = CliRunner().invoke(app, ["ingest", "srsc", "--path", str(outside)])
    assert result.exit_code == 1
    assert "outside the folders allowed for imports" in " ".join(result.output.split())
    assert _raw_objects(stack, "srsc") == []

    imports = allowed_import_dirs()[0]
    imports.mkdir(parents=True, exist_ok=True)
    (imports / "SRSC_distances.csv").write_bytes(outside.read_bytes())
    result = CliRunner().invoke(app, ["ingest", "srsc", "--path", str(imports / "SRSC_distances.csv")])
    assert result.exit_code == 0, result.output
    assert any(p.endswith("/SRSC_distances.csv") for p in _raw_objects(stack, "srsc"))


def test_sql_in_a_cut_is_refused_at_trigger_time(stack):
    """Issue item 3: {"grade_a_max_sigma": "(select 1/0)"} passed unchecked to dbt as the warehouse owner.

    That key is no longer a cut (grades follow the association probability) and an undeclared key is
    ignored; the same attack on a declared cut is refused at trigger time."""
    stack.airflow.wait_for_dag("radiolake_pipeline", timeout=240)
    with pytest.raises(AirflowRunFailed, match=r"refused \(4\d\d\)"):
        stack.airflow.trigger("radiolake_pipeline", {"grade_a_min_probability": "(select 1/0)"})


@pytest.mark.parametrize(("dag_id", "conf"), [
    ("crossmatch", {"radio": "../raw/srsc", "stars": "gaia_dr3"}),  # a name may not leave its bucket prefix
    ("warehouse", {"run_id": "../reports/x"}),
    ("warehouse", {"parallax_snr_min": "5; drop table load.runs"}),
])
def test_typed_params_refuse_paths_and_text_at_trigger_time(stack, dag_id, conf):
    stack.airflow.wait_for_dag(dag_id, timeout=240)
    try:
        with pytest.raises(AirflowRunFailed, match=r"refused \(4\d\d\)"):
            stack.airflow.trigger(dag_id, conf)
    finally:  # trigger() unpaused it: Asset-scheduled DAGs must not wake up behind other tests
        with stack.airflow._client() as client:
            client.patch(f"/dags/{dag_id}", json={"is_paused": True}).raise_for_status()


def test_dbt_refuses_a_text_var_at_compile_time(stack, tmp_path):
    """Even a caller that bypasses the Python checks cannot paste SQL through --vars."""
    with pytest.raises(dbt_runner.DbtError, match="must be a number"):
        dbt_runner.build(settings=stack.settings, vars={"grade_a_min_probability": "(select 1/0)"},
                         work_dir=tmp_path, timeout=600)


def test_airflow_listens_on_loopback_only(stack):
    """Issue item 4: the worker and triggerer log servers listened on 0.0.0.0."""
    from radiolake.stack.process import stack_processes

    pids = {p.pid for p in stack_processes(stack.stack.state.root)}
    airflow = {p.pid for p in map(psutil.Process, pids) if "airflow" in " ".join(p.cmdline())}
    assert airflow, "no Airflow process of the test stack found"
    listening = [c for c in psutil.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.pid in airflow]
    assert listening, "the api-server should listen"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}, listening
    log_ports = {stack.stack.ports[k] for k in ("airflow_worker_logs", "airflow_trigger_logs")}
    assert not [c for c in psutil.net_connections(kind="inet")
                if c.status == psutil.CONN_LISTEN and c.laddr.port in log_ports and c.laddr.ip != "127.0.0.1"]


def test_roles_carry_timeouts(stack):
    with psycopg.connect(stack.admin_dsn) as conn:
        config = dict(conn.execute("SELECT rolname, rolconfig FROM pg_roles WHERE rolname IN "
                                   "('analyst', 'radiolake')").fetchall())
    for role in ("analyst", "radiolake"):
        settings = {c.split("=")[0] for c in config[role] or []}
        assert {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"} <= settings


def test_open_analyst_transaction_fails_the_dbt_build_naming_the_session(stack, tmp_path, monkeypatch):
    """Issue item 5: an analyst transaction left open on a mart stalled every later dbt build forever."""
    from radiolake.warehouse.load import load_run
    from radiolake.warehouse.sample_run import write_sample_run

    write_sample_run(str(tmp_path / "run"), n_pairs=200, seed=51, run_id="it-doors-lock")
    load_run(str(tmp_path / "run"), dsn=stack.settings.warehouse_dsn)
    dbt_runner.build(settings=stack.settings, work_dir=tmp_path / "first", timeout=900)  # the marts exist
    monkeypatch.setenv("RADIOLAKE_PG_LOCK_TIMEOUT_MS", "3000")
    analyst = psycopg.connect(stack.analyst_dsn, application_name="analyst-notebook")
    try:
        analyst.execute("SELECT count(*) FROM marts.radio_star_candidates").fetchone()  # and left open
        pid = analyst.info.backend_pid
        with pytest.raises(dbt_runner.DbtError) as err:
            dbt_runner.build(settings=stack.settings, work_dir=tmp_path / "second", timeout=600)
    finally:
        analyst.close()
    message = str(err.value)
    assert "lock timeout" in message
    assert f"session pid {pid} (role analyst, application analyst-notebook" in message
    assert "marts.radio_star_candidates" in message
    dbt_runner.build(settings=stack.settings, work_dir=tmp_path / "third", timeout=900)  # free again: builds


def test_stack_status_masks_passwords_unless_asked(stack):
    from radiolake.app.cli import app

    password = stack.stack.secrets["warehouse_password"]
    masked = CliRunner().invoke(app, ["stack", "status"])
    assert "postgresql://radiolake:***@127.0.0.1" in masked.output
    assert password not in masked.output
    shown = CliRunner().invoke(app, ["stack", "status", "--show-secrets"])
    assert password in shown.output
