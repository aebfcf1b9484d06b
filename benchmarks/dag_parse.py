"""How long the DAG processor takes to parse the DAG files that render dbt as one task per model (Cosmos).

Reference, measured in the same run: the ingest DAG file (no dbt). Each file is parsed `--repeat` times in
one process, as the DAG processor re-parses it; the median is printed with its ratio to the reference, and
Airflow's `dagbag_import_timeout` (the limit a parse must stay under). Needs no stack: the dbt tasks are
rendered from dbt/target/manifest.json (made here first if stale, as `make setup` does).

    python benchmarks/dag_parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def parse_seconds(path: Path, repeat: int) -> float:
    from airflow.dag_processing.dagbag import DagBag

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        bag = DagBag(dag_folder=str(path))
        times.append(time.perf_counter() - start)
        if bag.import_errors:
            raise SystemExit(f"{path.name}: {bag.import_errors}")
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from airflow.configuration import conf

    from radiolake.warehouse.dbt_airflow import ensure_manifest

    start = time.perf_counter()
    ensure_manifest()
    print(f"manifest ready in {time.perf_counter() - start:.2f} s (dbt parse only when dbt/ changed)")
    reference = parse_seconds(REPO / "dags" / "ingest.py", args.repeat)
    print(f"reference dags/ingest.py: {reference:.3f} s")
    for name in ("pipeline.py", "warehouse.py"):
        seconds = parse_seconds(REPO / "dags" / name, args.repeat)
        print(f"dags/{name}: {seconds:.3f} s  ratio {seconds / reference:.2f} x reference; "
              f"{seconds / conf.getfloat('core', 'dagbag_import_timeout'):.1%} of dagbag_import_timeout")
    return 0


if __name__ == "__main__":
    sys.exit(main())
