"""The executor workers' warm-up (radiolake.task_executor.warm_up): what a forked task inherits from it.

A worker parses the DAG folder once, keeps the libraries that parse loaded (a task forked from it does not
import them again) and forgets the project's own modules (the DAG files, `radiolake`), so a task still reads
the code as it is on disk. Run in a fresh interpreter: forgetting `radiolake` in the test process would
leave the other tests with two copies of its modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from radiolake.config import repo_root

PROBE = """
import json, sys
from radiolake.task_executor import warm_up
forgotten = warm_up(sys.argv[1])
import radiolake.timeouts
print(json.dumps({
    "forgotten": forgotten,
    "library_loaded": "warm_probe_lib" in sys.modules,
    "dag_modules": [n for n, m in sys.modules.items() if (getattr(m, "__file__", None) or "").startswith(sys.argv[1])],
    "timeouts_file": radiolake.timeouts.__file__,
    "project_modules_before_reimport": sorted(set(forgotten) & {"radiolake", "radiolake.timeouts"}),
}))
"""

DAG = '''
from datetime import datetime

from airflow.sdk import dag, task

import warm_probe_lib  # a library: stays loaded for the tasks
from radiolake.timeouts import task_timeout  # the project: imported fresh by each task


@dag(dag_id="warm_probe", schedule=None, start_date=datetime(2026, 1, 1))
def warm_probe():
    @task(execution_timeout=task_timeout("report"))
    def noop() -> int:
        return warm_probe_lib.VALUE

    noop()


warm_probe()
'''


def test_warm_up_keeps_the_libraries_and_forgets_the_project(tmp_path: Path) -> None:
    dags, lib = tmp_path / "dags", tmp_path / "lib"
    dags.mkdir()
    lib.mkdir()
    (dags / "probe_dag.py").write_text(DAG)
    (lib / "warm_probe_lib.py").write_text("VALUE = 1\n")
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "PYTHONPATH": os.pathsep.join([str(lib), str(repo_root())])}
    done = subprocess.run([sys.executable, "-c", PROBE, str(dags)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["library_loaded"]  # the DAG file's library import was done once, in the worker
    assert seen["dag_modules"] == []  # the DAG file itself is parsed again by each task
    assert seen["project_modules_before_reimport"] == ["radiolake", "radiolake.timeouts"]
    assert any(name.endswith("probe_dag") for name in seen["forgotten"])
    assert Path(seen["timeouts_file"]) == repo_root() / "radiolake" / "timeouts.py"  # imported again from disk


def test_the_stack_tunes_task_start_up(
        tmp_path: Path, monkeypatch) -> None:
    from radiolake.stack.airflow import airflow_env
    from radiolake.stack.postgres import Postgres
    from radiolake.stack.state import StateDir
    from radiolake.task_executor import WARM_UP_ENV

    for name in (WARM_UP_ENV, "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL",
                 "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"):
        monkeypatch.delenv(name, raising=False)
    state = StateDir(tmp_path / "state")
    state.prepare()
    secrets = state.secrets()
    env = airflow_env(state, {"airflow": 1, "airflow_worker_logs": 2, "airflow_trigger_logs": 3}, secrets,
                      Postgres(state, 5999, secrets))
    assert env[WARM_UP_ENV] == "1"
    assert int(env["AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"]) > 30  # Airflow's default: 30
    assert int(env["AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL"]) < 5  # Airflow's default: 5
