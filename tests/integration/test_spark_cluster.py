"""A Spark standalone cluster of the embedded stack (master + 2 workers) runs the cross-match of lake catalogues
exactly as local mode does: from the CLI with --master, and from an Airflow task that finds the cluster by
itself. Lake I/O goes through the test stack's S3 server; the cluster is started and stopped here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pyarrow.parquet as pq
import pytest

from radiolake.config import get_settings
from radiolake.crossmatch.runner import safe_run_id
from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs, get_bytes
from radiolake.stack.process import stack_processes

pytestmark = pytest.mark.integration

RADIO, STARS = "it_cluster_radio", "it_cluster_stars"
MATCH = {"radius_arcsec": 2.0, "offsets": 2, "offset_arcmin": 2.0}


def radiolake_cli(*args: str) -> tuple[dict, float]:
    """Run `radiolake ...` as a user does (own process, own Spark driver); (run.json, wall seconds)."""
    cli = Path(sys.executable).parent / "radiolake"
    t0 = time.monotonic()
    result = subprocess.run([str(cli), *args], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "COLUMNS": "200"})
    wall = time.monotonic() - t0
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout[result.stdout.index("{"):]), wall


def crossmatch_cli(run_id: str, master: str | None) -> float:
    _, wall = radiolake_cli("crossmatch", "--radio", RADIO, "--stars", STARS,
                            "--radius-arcsec", str(MATCH["radius_arcsec"]), "--offsets", str(MATCH["offsets"]),
                            "--offset-arcmin", str(MATCH["offset_arcmin"]), "--run-id", run_id,
                            *(("--master", master) if master else ()))
    return wall


def pairs_table(settings, run_id: str):
    """A run's pairs, every column but the run id (which names the run), in a fixed row order."""
    table = pq.read_table(f"{settings.bucket('xmatch')}/{run_id}/pairs", filesystem=arrow_fs(settings)).to_pandas()
    assert set(table.pop("run_id")) == {run_id}
    keys = ["radio_id", "star_id", *sorted(c for c in table.columns if "offset" in c or c == "sky")]
    return table[sorted(table.columns)].sort_values(keys).reset_index(drop=True)


def differences(a, b) -> list[str]:
    """Columns where two pairs tables differ: exact for ids and integers, 1e-9 relative for floats."""
    import numpy as np

    if len(a) != len(b) or list(a.columns) != list(b.columns):
        return [f"shape {a.shape} vs {b.shape}"]
    bad = []
    for col in a.columns:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        same = np.allclose(x, y, rtol=1e-9, atol=0, equal_nan=True) if x.dtype.kind == "f" else (x == y).all()
        if not same:
            bad.append(col)
    return bad


def cluster_sockets_on_loopback_only(pids: list[int]) -> list[str]:
    """Listening sockets of these processes (and their children) bound anywhere but 127.0.0.1."""
    bad = []
    procs = [psutil.Process(p) for p in pids]
    procs += [c for p in list(procs) for c in p.children(recursive=True)]
    for proc in procs:
        for conn in proc.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.ip not in ("127.0.0.1", "::ffff:127.0.0.1"):
                bad.append(f"{proc.name()}[{proc.pid}] {conn.laddr.ip}:{conn.laddr.port}")
    return bad


@pytest.mark.timeout(2400)  # three Spark applications and a cluster start, on a shared 2-core machine
def test_crossmatch_on_a_two_worker_cluster_equals_local_mode(stack):
    settings = stack.settings
    for survey, name in (("synthetic_stars", STARS), ("synthetic_radio", RADIO)):
        ingest_survey(survey, rows=20000, seed=13, name=name, settings=settings)
    cluster = stack.stack.spark
    local_wall = crossmatch_cli("it-cluster-local", "local[2]")
    try:
        stack.stack.up(with_airflow=False, spark_workers=2)  # Airflow runs already; only Spark is new
        assert get_settings().spark_master == cluster.master_url  # what tasks and the CLI now use by default
        report = cluster.master_state()
        assert report["status"] == "ALIVE" and report["aliveworkers"] == 2
        assert cluster_sockets_on_loopback_only([cluster.master().pid(), *(w.pid() for w in
                                                 cluster.worker_processes())]) == []

        cluster_wall = crossmatch_cli("it-cluster-cli", None)  # no --master: the stack's cluster is the default

        # An Airflow task of the real Airflow, with no master given: config falls back to the stack's cluster.
        dag_run = stack.airflow.trigger("crossmatch", conf={"radio": RADIO, "stars": STARS, "n_sigma": None,
                                                            "k_nearest": None, **MATCH})
        stack.airflow.wait_for_run("crossmatch", dag_run, timeout=900)
        airflow_run = safe_run_id(dag_run)

        report = cluster.master_state()
        apps = report["completedapps"] + report["activeapps"]
        assert sum(a["name"] == "radiolake-crossmatch" for a in apps) == 2, apps  # the CLI's and the task's
        for worker in (0, 1):  # both workers ran executors of both applications
            work = stack.stack.state.root / "spark" / "work" / f"worker-{worker}"
            assert {a["id"] for a in apps} <= {p.name for p in work.iterdir()}, worker
    finally:
        stack.stack.up(with_airflow=False, spark_workers=0)

    assert not cluster.running() and not cluster.worker_processes()
    assert [p for p in stack_processes(stack.stack.state.root) if "spark" in " ".join(p.cmdline())] == []
    assert get_settings().spark_master == "local[*]"

    local = pairs_table(settings, "it-cluster-local")
    assert len(local) > 20 and set(local["star_id"].str.startswith("synthetic_stars")) == {True}
    print(f"\ncross-match {RADIO} x {STARS}, CLI whole process: local[2] {local_wall:.1f} s, "
          f"standalone 2 x 1-core workers {cluster_wall:.1f} s (ratio {cluster_wall / local_wall:.2f})")
    keys = ["radio_id", "star_id", *(c for c in local.columns if "offset" in c or c == "sky")]
    assert not local.duplicated(keys).any()
    for run_id in ("it-cluster-cli", airflow_run):
        on_cluster = pairs_table(settings, run_id)
        assert set(map(tuple, on_cluster[keys].to_numpy())) == set(map(tuple, local[keys].to_numpy())), run_id
        assert differences(on_cluster, local) == [], run_id
        run = json.loads(get_bytes(settings.bucket("xmatch"), f"{run_id}/run.json"))
        assert run["n_pairs"] == len(local)
