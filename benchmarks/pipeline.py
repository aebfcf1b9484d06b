"""Pipeline benchmark: the `radiolake_pipeline` DAG on the demo sky, dbt as Cosmos WATCHER vs LOCAL.

Brings the embedded stack up (`radiolake stack up`: what is not running yet), then, for each round and each
mode (interleaved; the order alternates between rounds), restarts the stack's Airflow with
RADIOLAKE_DBT_EXECUTION_MODE=<mode> (every component parses the DAG with the mode it was started with), waits
until the dag-processor has the DAG in that mode, triggers it through the REST API with the demo's conf
(`radiolake demo`: synthetic sky, cone 3 deg, 20,000 stars) and waits for it. Printed per mode (median over
rounds): the whole DAG run (its start to its end) and its dbt part (first start to last end of the `dbt.*`
tasks), and the ratio local/watcher, both measured in this run on this machine.

Checked: every run succeeded with every model's task; the marts each run built are the same in both modes
(row counts of the run's rows in each mart, and a checksum of the run's candidates and of radio_stars, the
columns that name a run or a time, and the keys, left out). Results go to
benchmarks/results/pipeline-<utc>.json with the commit. Airflow is left running in the default mode (watcher)
afterwards; the stack is stopped only if this started it.

Usage: python benchmarks/pipeline.py [--rounds 1] [--modes watcher,local]
Needs nothing running (it starts the stack in RADIOLAKE_HOME, or the default state directory); on a shared
machine run it like the integration tests, in a state directory of its own:
`RADIOLAKE_HOME=/tmp/radiolake-bench flock /tmp/radiolake-integration.lock .venv/bin/python benchmarks/pipeline.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from radiolake.app.airflow_client import AirflowClient
from radiolake.app.demo import PIPELINE_DAG, SYNTHETIC_CONF
from radiolake.config import DBT_EXECUTION_MODES
from radiolake.crossmatch.runner import safe_run_id
from radiolake.stack.airflow import ADMIN_USER
from radiolake.stack.stack import Stack

RESULTS = Path(__file__).resolve().parent / "results"
MODE_ENV = "RADIOLAKE_DBT_EXECUTION_MODE"
#: The task only the watcher mode has (Cosmos' producer: the one `dbt build`).
PRODUCER = "dbt.dbt_producer_watcher"


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def restart_airflow(stack: Stack, client: AirflowClient, mode: str, timeout: float = 300.0) -> float:
    """Airflow restarted with the mode in its environment; returns when the API lists the DAG in that mode
    (the producer task present or absent), and how long that took."""
    t0 = time.perf_counter()
    os.environ[MODE_ENV] = mode
    stack.airflow.stop()
    stack.airflow.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with client._client() as http:
                resp = http.get(f"/dags/{PIPELINE_DAG}/tasks")
            if resp.status_code == 200:
                ids = {t["task_id"] for t in resp.json()["tasks"]}
                if (PRODUCER in ids) == (mode == "watcher"):
                    return time.perf_counter() - t0
        except (OSError, httpx.HTTPError):  # the api-server still starting
            pass
        time.sleep(3)
    raise TimeoutError(f"{PIPELINE_DAG} not parsed in mode {mode} after {timeout:.0f} s")


def run_times(client: AirflowClient, airflow_run: str) -> dict:
    """Wall seconds of the whole run and of its dbt tasks, from the run's and its task instances' times."""
    with client._client() as http:
        run = http.get(f"/dags/{PIPELINE_DAG}/dagRuns/{airflow_run}").json()
        tis = http.get(f"/dags/{PIPELINE_DAG}/dagRuns/{airflow_run}/taskInstances",
                       params={"limit": 1000}).json()["task_instances"]
    dbt = [t for t in tis if t["task_id"].startswith("dbt.")]
    starts = [_when(t["start_date"]) for t in dbt if t["start_date"]]
    ends = [_when(t["end_date"]) for t in dbt if t["end_date"]]
    states = {t["task_id"]: t["state"] for t in tis}
    return {
        "run_s": (_when(run["end_date"]) - _when(run["start_date"])).total_seconds(),
        "dbt_s": (max(ends) - min(starts)).total_seconds(),
        "tasks": len(tis), "dbt_tasks": len(dbt), "states": sorted(set(states.values())),
        "not_successful": {k: v for k, v in states.items() if v != "success"},
    }


def _checksum(conn, table: str, where: sql.Composable, args: tuple) -> tuple[int, str]:
    """Rows and an md5 of the rows (sorted), columns that name a run or a time, and keys (some are built from
    the run id), left out."""
    cols = [r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = %s "
        "ORDER BY ordinal_position", (table,))]
    kept = [c for c in cols if "run" not in c and not c.endswith(("_at", "_key"))]
    row = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(map(sql.Identifier, kept)))
    query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) "
                    "FROM (SELECT {} AS r FROM marts.{} {}) t").format(row, sql.Identifier(table), where)
    n, digest = conn.execute(query, args).fetchone()
    return n, digest


def marts_fingerprint(dsn: str, run_id: str) -> dict:
    """Per mart: the run's rows (marts keyed by run_id) or all rows, each with a checksum."""
    out = {}
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1")]
        for table in tables:
            has_run = conn.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = 'marts' "
                                   "AND table_name = %s AND column_name = 'run_id'", (table,)).fetchone()
            if has_run:
                out[table] = _checksum(conn, table, sql.SQL("WHERE run_id = %s"), (run_id,))
            else:
                out[table] = _checksum(conn, table, sql.SQL(""), ())
    return out


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              cwd=RESULTS.parent.parent).stdout.strip()
    except OSError:
        return ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--modes", default=",".join(DBT_EXECUTION_MODES))
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds for one DAG run")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if unknown := set(modes) - set(DBT_EXECUTION_MODES):
        raise SystemExit(f"unknown modes {sorted(unknown)}; known: {DBT_EXECUTION_MODES}")

    stack = Stack()
    started_here = not stack.postgres.running()
    t0 = time.perf_counter()
    stack.up()
    print(f"stack up in {time.perf_counter() - t0:.0f} s", flush=True)
    client = AirflowClient(stack.airflow.url, ADMIN_USER, stack.secrets["airflow_admin_password"])
    dsn = stack.settings().warehouse_dsn
    runs: list[dict] = []
    try:
        for rnd in range(args.rounds):
            for mode in modes if rnd % 2 == 0 else modes[::-1]:
                restart_s = restart_airflow(stack, client, mode)
                airflow_run = client.trigger(PIPELINE_DAG, SYNTHETIC_CONF)
                client.wait_for_run(PIPELINE_DAG, airflow_run, timeout=args.timeout)
                times = run_times(client, airflow_run)
                marts = marts_fingerprint(dsn, safe_run_id(airflow_run))
                runs.append({"round": rnd, "mode": mode, "airflow_run": airflow_run, "restart_s": restart_s,
                             **times, "marts": marts})
                print(f"round {rnd} {mode:8s} run {times['run_s']:6.1f} s  dbt {times['dbt_s']:6.1f} s  "
                      f"({times['dbt_tasks']} dbt tasks; Airflow restart {restart_s:.0f} s)", flush=True)
    finally:
        if os.environ.get(MODE_ENV) != DBT_EXECUTION_MODES[0]:
            os.environ[MODE_ENV] = DBT_EXECUTION_MODES[0]
            stack.airflow.stop()
            stack.airflow.start()
        if started_here:
            stack.down()

    summary = {m: {k: statistics.median(r[k] for r in runs if r["mode"] == m) for k in ("run_s", "dbt_s")}
               for m in modes}
    print(f"\n{'mode':8s} {'DAG run (s)':>12s} {'dbt part (s)':>13s}")
    for m in modes:
        print(f"{m:8s} {summary[m]['run_s']:12.1f} {summary[m]['dbt_s']:13.1f}")
    ok = all(r["not_successful"] == {} for r in runs)
    if {"watcher", "local"} <= set(modes):
        w, loc = summary["watcher"], summary["local"]
        print(f"local / watcher: DAG run x{loc['run_s'] / w['run_s']:.2f}, dbt part x{loc['dbt_s'] / w['dbt_s']:.2f}")
    # The marts of every run, mode against mode: the same rows (radio_stars is across runs, so it is compared
    # as the whole table after each run; the same sky each time leaves it the same).
    first = runs[0]["marts"]
    same = all(r["marts"] == first for r in runs)
    print("marts identical across runs and modes:", same)
    if not same:
        for r in runs:
            print(f"  {r['mode']} {r['airflow_run']}: {r['marts']}")
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"pipeline-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "pipeline", "commit": commit(), "utc": stamp, "cores": os.cpu_count(),
                                "args": vars(args), "conf": SYNTHETIC_CONF, "summary": summary,
                                "marts_identical": same, "all_successful": ok, "runs": runs}, indent=2))
    print(f"saved {path}")
    return 0 if ok and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
