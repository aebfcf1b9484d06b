"""Pipeline benchmark: the `radiolake_pipeline` DAG on the demo sky, dbt as Cosmos WATCHER vs LOCAL.

Brings the embedded stack up (`radiolake stack up`: what is not running yet), then, for each round and each
mode (interleaved; the order alternates between rounds), restarts the stack's Airflow with
RADIOLAKE_DBT_EXECUTION_MODE=<mode> (every component parses the DAG with the mode it was started with), waits
until the dag-processor has the DAG in that mode, triggers it through the REST API with the demo's conf
(`radiolake demo`: synthetic sky, cone 3 deg, 20,000 stars) and waits for it. Printed per mode (median over
rounds): the whole DAG run (its start to its end) and its dbt part (first start to last end of the `dbt.*`
tasks), and the ratio local/watcher, both measured in this run on this machine; per run, where the time went
(`timeline`: the parts of the run and its critical path, task run time against scheduler and executor waits).
A mode named `<mode>-cold` runs with the stack's task start-up tuning off (`UNTUNED`): the executor's
warm-up (radiolake/task_executor.py: each task then imports Airflow, Cosmos and the libraries itself), and
Airflow's defaults for the supervisor's poll interval and the dag-processor's reparse interval, to measure
what they give: `--modes watcher,watcher-cold`.

Checked: every run succeeded with every model's task; the marts each run built are the same in both modes
(row counts of the run's rows in each mart, and a checksum of the run's candidates and of radio_stars, the
columns that name a run or a time, and the keys, left out). Results go to
benchmarks/results/pipeline-<utc>.json with the commit. Airflow is left running in the default mode (watcher)
afterwards; the stack is stopped only if this started it.

Usage: python benchmarks/pipeline.py [--rounds 1] [--modes watcher,local[,watcher-cold,local-cold]]
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
COLD = "-cold"
#: The stack's settings for fast task starts (radiolake/stack/airflow.py), and their values in a `-cold` run.
TUNED = {"RADIOLAKE_TASK_WARM_UP": "1", "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
         "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120"}
UNTUNED = {"RADIOLAKE_TASK_WARM_UP": "0", "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "5",
           "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30"}
#: The task only the watcher mode has (Cosmos' producer: the one `dbt build`).
PRODUCER = "dbt.dbt_producer_watcher"


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else None


def restart_airflow(stack: Stack, client: AirflowClient, variant: str, timeout: float = 300.0) -> float:
    """Airflow restarted with the variant's mode (and warm-up, see the module docstring) in its environment;
    returns when the API lists the DAG in that mode (the producer task present or absent), and how long that
    took."""
    mode = variant.removesuffix(COLD)
    os.environ.update(UNTUNED if variant.endswith(COLD) else TUNED)
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


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return (later - earlier).total_seconds() if later and earlier else None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def timeline(run: dict, tis: list[dict], upstream: dict[str, list[str]]) -> dict:
    """Where the run's wall time went, from the task instances' scheduled/queued/start/end times.

    Per task, relative to the run's start: `ready` (its last upstream's end), `scheduled`, `queued`, `start`,
    `end`. The critical path is walked back from the task that ended last, each step to the upstream that
    ended last; its wall time splits into the tasks' own run time (start to end) and the waits between a
    task's last upstream ending and its own start: the scheduler's (ready to queued) and the executor's
    (queued to start, a worker forking and the task process parsing the DAG are in the task's run time).
    """
    t0 = _when(run["start_date"])
    by_id = {t["task_id"]: t for t in tis}
    rows = {}
    for tid, t in by_id.items():
        ups = [by_id[u] for u in upstream.get(tid, []) if u in by_id and by_id[u]["end_date"]]
        ready = max((_when(u["end_date"]) for u in ups), default=t0)
        rows[tid] = {"ready": _seconds(ready, t0), "scheduled": _seconds(_when(t["scheduled_when"]), t0),
                     "queued": _seconds(_when(t["queued_when"]), t0), "start": _seconds(_when(t["start_date"]), t0),
                     "end": _seconds(_when(t["end_date"]), t0), "state": t["state"], "try": t["try_number"]}
    path, tid = [], max((k for k in rows if rows[k]["end"] is not None), key=lambda k: rows[k]["end"])
    while tid:
        path.append(tid)
        ups = [u for u in upstream.get(tid, []) if u in rows and rows[u]["end"] is not None]
        tid = max(ups, key=lambda u: rows[u]["end"]) if ups else None
    path.reverse()
    done = [rows[k] for k in path if rows[k]["start"] is not None]
    sched = sum((r["queued"] or r["start"]) - r["ready"] for r in done)
    queue = sum(r["start"] - (r["queued"] or r["start"]) for r in done)
    running = sum(r["end"] - r["start"] for r in done)
    watchers = [r for k, r in rows.items() if k.startswith("dbt.") and k != PRODUCER and r["start"] is not None
                and not k.endswith("dbt_producer_watcher_done")]
    return {
        "critical_path": path, "critical_tasks_s": running, "critical_scheduler_wait_s": sched,
        "critical_executor_wait_s": queue,
        "dbt_task_mean_run_s": _mean([r["end"] - r["start"] for r in watchers]),
        "dbt_task_mean_wait_s": _mean([r["start"] - r["ready"] for r in watchers]),
        "tasks": rows,
    }


def phases(rows: dict) -> dict:
    """Wall seconds of the run's parts: before dbt (ingest, cross-match, load), the dbt group (under watcher:
    the producer's `dbt build`, then its watching tasks), the report after it."""
    def span(keys: list[str]) -> tuple[float, float] | None:
        got = [rows[k] for k in keys if rows[k]["start"] is not None]
        return (min(r["start"] for r in got), max(r["end"] for r in got)) if got else None

    dbt = [k for k in rows if k.startswith("dbt.")]
    out = {"before_dbt_s": span([k for k in rows if not k.startswith("dbt.") and k != "report"]),
           "dbt_s": span(dbt), "producer_s": span([PRODUCER]) if PRODUCER in rows else None,
           "watchers_s": span([k for k in dbt if k != PRODUCER]) if PRODUCER in rows else None,
           "report_s": span(["report"]) if "report" in rows else None}
    return {k: (round(v[1] - v[0], 1), round(v[0], 1)) if v else None for k, v in out.items()}


def run_times(client: AirflowClient, airflow_run: str) -> dict:
    """Wall seconds of the whole run and of its dbt tasks, from the run's and its task instances' times, and
    the run's timeline (see `timeline`)."""
    with client._client() as http:
        run = http.get(f"/dags/{PIPELINE_DAG}/dagRuns/{airflow_run}").json()
        tis = http.get(f"/dags/{PIPELINE_DAG}/dagRuns/{airflow_run}/taskInstances",
                       params={"limit": 1000}).json()["task_instances"]
        tasks = http.get(f"/dags/{PIPELINE_DAG}/tasks").json()["tasks"]
    upstream: dict[str, list[str]] = {}
    for task in tasks:
        for down in task["downstream_task_ids"]:
            upstream.setdefault(down, []).append(task["task_id"])
    dbt = [t for t in tis if t["task_id"].startswith("dbt.")]
    starts = [_when(t["start_date"]) for t in dbt if t["start_date"]]
    ends = [_when(t["end_date"]) for t in dbt if t["end_date"]]
    states = {t["task_id"]: t["state"] for t in tis}
    line = timeline(run, tis, upstream)
    return {
        "run_s": (_when(run["end_date"]) - _when(run["start_date"])).total_seconds(),
        "dbt_s": (max(ends) - min(starts)).total_seconds(),
        "tasks": len(tis), "dbt_tasks": len(dbt), "states": sorted(set(states.values())),
        "not_successful": {k: v for k, v in states.items() if v != "success"},
        "phases": phases(line["tasks"]), "timeline": line,
    }


def print_timeline(times: dict) -> None:
    line = times["timeline"]
    print("  phases (seconds, start):", {k: v for k, v in times["phases"].items() if v}, flush=True)
    mean_run, mean_wait = line["dbt_task_mean_run_s"], line["dbt_task_mean_wait_s"]
    print(f"  critical path {len(line['critical_path'])} tasks: running {line['critical_tasks_s']:.1f} s, "
          f"scheduler waits {line['critical_scheduler_wait_s']:.1f} s, executor waits "
          f"{line['critical_executor_wait_s']:.1f} s; dbt tasks: mean run {mean_run or 0:.1f} s, "
          f"mean ready-to-start {mean_wait or 0:.1f} s", flush=True)


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


def print_summary(runs: list[dict], modes: list[str]) -> dict:
    """Medians per mode, and the ratios of the pairs measured: local/watcher, and cold/warm per mode."""
    summary = {m: {k: statistics.median(r[k] for r in runs if r["mode"] == m) for k in ("run_s", "dbt_s")}
               for m in modes}
    print(f"\n{'mode':13s} {'DAG run (s)':>12s} {'dbt part (s)':>13s}")
    for m in modes:
        print(f"{m:13s} {summary[m]['run_s']:12.1f} {summary[m]['dbt_s']:13.1f}")
    pairs = [("local", "watcher")] + [(m + COLD, m) for m in DBT_EXECUTION_MODES]
    for slow, fast in pairs:
        if {slow, fast} <= set(modes):
            a, b = summary[slow], summary[fast]
            print(f"{slow} / {fast}: DAG run x{a['run_s'] / b['run_s']:.2f}, dbt part x{a['dbt_s'] / b['dbt_s']:.2f}")
    return summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--modes", default=",".join(DBT_EXECUTION_MODES))
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds for one DAG run")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if unknown := {m for m in modes if m.removesuffix(COLD) not in DBT_EXECUTION_MODES}:
        raise SystemExit(f"unknown modes {sorted(unknown)}; known: {DBT_EXECUTION_MODES}, each also as <mode>{COLD}")

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
                load = os.getloadavg()
                airflow_run = client.trigger(PIPELINE_DAG, SYNTHETIC_CONF)
                client.wait_for_run(PIPELINE_DAG, airflow_run, timeout=args.timeout)
                times = run_times(client, airflow_run)
                marts = marts_fingerprint(dsn, safe_run_id(airflow_run))
                runs.append({"round": rnd, "mode": mode, "airflow_run": airflow_run, "restart_s": restart_s,
                             "load_before": load, "load_after": os.getloadavg(),
                             **times, "marts": marts})
                print(f"round {rnd} {mode:8s} run {times['run_s']:6.1f} s  dbt {times['dbt_s']:6.1f} s  "
                      f"({times['dbt_tasks']} dbt tasks; Airflow restart {restart_s:.0f} s; load average "
                      f"{load[0]:.1f} before, {os.getloadavg()[0]:.1f} after)", flush=True)
                print_timeline(times)
    finally:
        if os.environ.get(MODE_ENV) != DBT_EXECUTION_MODES[0] or any(os.environ.get(k) != v for k, v in TUNED.items()):
            os.environ[MODE_ENV] = DBT_EXECUTION_MODES[0]
            os.environ.update(TUNED)
            stack.airflow.stop()
            stack.airflow.start()
        if started_here:
            stack.down()

    summary = print_summary(runs, modes)
    ok = all(r["not_successful"] == {} for r in runs)
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
