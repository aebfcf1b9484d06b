"""`python -m benchmarks` (`make bench`): every benchmark at its default size, one after the other.

Sizes for the issues' figures: `python benchmarks/ingest.py --rows 10000000`,
`python -m benchmarks.crossmatch --size small` (a quicker look), `python benchmarks/warehouse.py --pairs 1000000`,
`python benchmarks/warehouse_load.py --pairs 1000000` (the load alone, repeated, wall and CPU),
`python benchmarks/spark_cluster.py --rows 1000000` (local mode vs the stack's standalone cluster),
`python benchmarks/bucket_browser.py` (a 10,000-object folder through the bucket browser),
`python -m benchmarks.growing --stars 1000000 --radio 100000` (a catalogue grown by three regions: regional runs vs
one whole run over the union),
`python benchmarks/pipeline.py --rounds 3` (the pipeline DAG on the demo sky, dbt as Cosmos WATCHER vs LOCAL)
`python -m benchmarks plan-check` (`radiolake plan` vs real runs at three sizes; --save-costs refits its costs)
(the warehouse one needs the embedded stack: `radiolake stack up --no-airflow`; the bucket browser one the
stack with Airflow: `radiolake stack up`; the pipeline one starts what is not running and restarts Airflow
once per mode).
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = [
    ["benchmarks/dag_parse.py"],
    ["benchmarks/ingest.py"],
    ["benchmarks/footprint_cells.py"],  # a --for-radio fetch's cells vs the rings they replaced
    # issue 25's must-holds at its size (10 M x 1 M, data generated once into .bench-cache/large): the lake
    # against astropy and LSDB cold and warm (in .venv-bench), then one unsorted Parquet file with 0 and 8 offset skies
    ["-m", "benchmarks.crossmatch", "--size", "large", "--layout", "hats", "--data", ".bench-cache/large",
     "--repeat", "3", "--no-offsets", "--lsdb"],
    ["-m", "benchmarks.crossmatch", "--size", "large", "--layout", "plain", "--data", ".bench-cache/large",
     "--repeat", "2"],
    ["-m", "benchmarks", "plan-check", "--sizes", "tiny", "small"],
    ["-m", "benchmarks.hats_versions", "--lsdb"],  # LSDB reads every grown version (in .venv-bench)
    ["-m", "benchmarks.growing"],  # regional runs (match the new, carry the rest) vs one whole run, checked equal
    ["benchmarks/warehouse.py", "--pairs", "200000"],
    ["benchmarks/warehouse_load.py", "--pairs", "200000", "--repeat", "2"],
    ["benchmarks/spark_cluster.py", "--rows", "100000"],
    ["benchmarks/bucket_browser.py", "--objects", "10000"],
    ["benchmarks/pipeline.py", "--rounds", "1"],
]


def main() -> int:
    if sys.argv[1:2] == ["plan-check"]:  # `python -m benchmarks plan-check ...`: radiolake plan vs real runs
        from benchmarks.plan_check import main as plan_check

        return plan_check(sys.argv[2:])
    failed = 0
    for args in RUNS:
        print(f"\n=== python {' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, *args], cwd=HERE.parent) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
