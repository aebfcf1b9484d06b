"""Warehouse load benchmark: `load_run` of a 1 M-pair run vs a bare COPY of the same rows, wall and CPU.

benchmarks/warehouse.py times the load once, next to the dbt build. On a shared machine one wall-clock
figure swings with what else runs, so this one (load only, a minute or two) repeats both, alternating them
so drift hits both alike, and prints for each repetition:
- wall time and rows/s of `load_run` (read + validate Parquet, binary COPY of five tables into new
  partitions, one transaction) and of the reference: pre-rendered CSV COPYed into plain index-free tables
  like load.*, also in one transaction (the reference skips reading and checking: it is the floor);
- CPU seconds spent by this process (reading, checking, encoding) and by the Postgres server (every
  backend of the cluster, from /proc: only when the server runs on this machine, as in the embedded
  stack). CPU time does not depend on how busy the machine is; wall time does.

Usage: python benchmarks/warehouse_load.py [--pairs 1000000] [--repeat 3]
Needs a warehouse: `radiolake stack up` (or RADIOLAKE_WAREHOUSE_DSN).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import psycopg

# The sibling script (`python benchmarks/warehouse_load.py` puts benchmarks/ first on sys.path): the same
# bare COPY reference and its CSV input as the load-and-build benchmark.
from warehouse import bare_copy_seconds, render_csvs

from radiolake.config import get_settings
from radiolake.warehouse.load import ensure_load_schema, load_run
from radiolake.warehouse.retention import drop_run
from radiolake.warehouse.sample_run import make_sample_tables, write_results
from radiolake.warehouse.validate import read_results


def _server_cpu_reader(dsn: str):
    """A function returning the CPU seconds the server's processes used so far, or None if not local."""
    with psycopg.connect(dsn) as conn:
        backend = conn.info.backend_pid
    try:
        with open(f"/proc/{backend}/stat") as f:
            postmaster = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return lambda: None  # the server is elsewhere (e.g. docker compose): no CPU figure
    tick = os.sysconf("SC_CLK_TCK")

    def cpu(pid: int, children: bool) -> float:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        own = int(fields[11]) + int(fields[12])
        return (own + (int(fields[13]) + int(fields[14]) if children else 0)) / tick

    def total() -> float:
        # The postmaster's reaped children (ended backends) plus every live one.
        live = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == postmaster:
                            live.append(int(pid))
                except (OSError, ValueError, IndexError):
                    continue
        return cpu(postmaster, children=True) + sum(cpu(p, children=False) for p in live)

    return total


def measure(fn, server_cpu) -> tuple[float, float, float | None]:
    """(wall s, this process's CPU s, server CPU s or None) of one call."""
    s0 = server_cpu()
    c0, w0 = time.process_time(), time.perf_counter()
    fn()
    wall, client = time.perf_counter() - w0, time.process_time() - c0
    time.sleep(0.2)  # let the postmaster reap an ended backend, so its CPU is counted
    s1 = server_cpu()
    return wall, client, (s1 - s0) if s0 is not None and s1 is not None else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = get_settings()
    settings.require_warehouse()
    dsn = settings.warehouse_dsn
    run_id = f"bench-load-{args.pairs}"
    server_cpu = _server_cpu_reader(dsn)

    with tempfile.TemporaryDirectory(prefix="radiolake-bench-") as tmp:
        folder = str(Path(tmp) / "run")
        tables, run = make_sample_tables(args.pairs, seed=1, run_id=run_id)
        write_results(folder, tables, run)
        total_rows = 1 + sum(t.num_rows for t in tables.values())
        csvs = render_csvs(read_results(folder).tables)
        with psycopg.connect(dsn) as conn:
            ensure_load_schema(conn)
            with conn.transaction(), conn.cursor() as cur:
                drop_run(cur, run_id)

        print(f"synthetic run: {args.pairs:,} pairs, {total_rows:,} rows over 6 tables; "
              "CPU = this process + the Postgres server")
        ratios, best = [], None
        try:
            for i in range(1, args.repeat + 1):
                load_start = os.getloadavg()[0]
                ref = measure(lambda: bare_copy_seconds(dsn, csvs), server_cpu)
                got = measure(lambda: load_run(folder, dsn=dsn), server_cpu)  # 2nd and later: a rerun
                ratios.append(ref[0] / got[0])
                best = got if best is None or got[0] < best[0] else best
                for label, (wall, client, server) in (("reference: bare CSV COPY", ref), ("load_run", got)):
                    cpu = f"CPU {client:5.2f} s + server {server:5.2f} s" if server is not None else \
                        f"CPU {client:5.2f} s (server not local)"
                    print(f"#{i} {label:25s} {wall:7.2f} s {total_rows / wall:10,.0f} rows/s   {cpu}")
                print(f"#{i} load_run = {ratios[-1]:.2f} x bare COPY speed   load average {load_start:.1f} at the "
                      f"start, {os.getloadavg()[0]:.1f} at the end, {os.cpu_count()} cores")
        finally:
            with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
                drop_run(cur, run_id)
        print(f"load_run best {best[0]:.2f} s = {total_rows / best[0]:,.0f} rows/s; median ratio to bare COPY "
              f"{statistics.median(ratios):.2f} x  (removed {run_id}; marts untouched: no dbt build)")


if __name__ == "__main__":
    main()
