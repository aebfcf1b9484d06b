"""Spark cluster benchmark: the same cross-match of lake catalogues on local[2] and on the embedded stack's
standalone cluster (master + 2 one-core workers), whole CLI process each, on the same S3 server.

The reference is local mode measured in the same run on the same machine, so the ratio says what the cluster
costs (or saves) here: on one 2-core machine, extra JVMs and executor-to-executor shuffles against one
process using both cores. Both runs must give the same pair set, or the benchmark fails.

Usage: python benchmarks/spark_cluster.py [--rows 100000] [--workers 2] [--keep]
Starts its own object store and cluster in a temporary state directory, and stops them at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq

from radiolake.ingest.run import ingest_survey
from radiolake.lake import arrow_fs
from radiolake.stack.objectstore import ObjectStore
from radiolake.stack.process import kill_strays
from radiolake.stack.spark import SparkCluster
from radiolake.stack.state import StateDir


def crossmatch_seconds(home: Path, run_id: str, master: str) -> float:
    cli = Path(sys.executable).parent / "radiolake"
    args = [str(cli), "crossmatch", "--radio", "bench_radio", "--stars", "bench_stars", "--radius-arcsec", "2",
            "--fixed-radius", "--offsets", "2", "--run-id", run_id, "--master", master]
    t0 = time.perf_counter()
    result = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "RADIOLAKE_HOME": str(home)})
    elapsed = time.perf_counter() - t0
    if result.returncode != 0:
        raise RuntimeError(f"crossmatch on {master} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return elapsed


def pair_set(state: StateDir, run_id: str) -> set[tuple]:
    settings = state.settings()
    table = pq.read_table(f"{settings.bucket('xmatch')}/{run_id}/pairs", filesystem=arrow_fs(settings))
    columns = sorted(c for c in table.column_names if c != "run_id")  # the run id names the run: it differs
    return set(zip(*(table.column(c).to_pylist() for c in columns), strict=True))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000, help="synthetic stars (radio sources scale with it)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--keep", action="store_true", help="keep the temporary state directory")
    a = p.parse_args()

    home = Path(tempfile.mkdtemp(prefix="radiolake-bench-cluster-", dir="/tmp"))
    state = StateDir(home)
    state.prepare()
    ports, secrets = state.ports({}), state.secrets()
    store, cluster = ObjectStore(state, ports, secrets), SparkCluster(state, ports, secrets)
    try:
        store.start()
        settings = state.settings()
        for survey, name in (("synthetic_stars", "bench_stars"), ("synthetic_radio", "bench_radio")):
            ingest_survey(survey, rows=a.rows, seed=3, name=name, settings=settings)
        local = crossmatch_seconds(home, "bench-local", "local[2]")
        t0 = time.perf_counter()
        cluster.start(a.workers)
        start = time.perf_counter() - t0
        on_cluster = crossmatch_seconds(home, "bench-cluster", cluster.master_url)
        same = pair_set(state, "bench-local") == pair_set(state, "bench-cluster")
        n_pairs = len(pair_set(state, "bench-local"))
    finally:
        cluster.stop()
        store.stop()
        kill_strays(home)
        if not a.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({"rows": a.rows, "workers": a.workers, "pairs": n_pairs, "same_pairs": same,
                      "local2_s": round(local, 1), "cluster_s": round(on_cluster, 1),
                      "cluster_start_s": round(start, 1)}))
    print(f"cross-match CLI, {a.rows} stars: local[2] {local:.1f} s (reference) | standalone {a.workers} x 1-core "
          f"workers {on_cluster:.1f} s = {on_cluster / local:.2f}x the reference | cluster start {start:.1f} s | "
          f"pair sets {'identical' if same else 'DIFFER'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
