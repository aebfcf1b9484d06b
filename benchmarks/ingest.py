"""Benchmark: ingest + partition N synthetic stars into a local lake; rows/s and peak memory.

Reference measured in the same run: writing the same generated stream straight to one Parquet file (no
validation, no partitioning), so the printed ratio is the cost of normalize + HEALPix partitioning.

    python benchmarks/ingest.py                 # 1 M stars (CI-feasible)
    python benchmarks/ingest.py --rows 10000000 # the issue's figure
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from radiolake.ingest.run import ingest_survey
from radiolake.ingest.synthetic import generate_synthetic_sky


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-rows-per-partition", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="radiolake-bench-") as tmp:
        t0 = time.perf_counter()
        sky = generate_synthetic_sky(args.rows, 0, 0, args.seed)
        writer = None
        for batch in sky.stars():
            if writer is None:
                writer = pq.ParquetWriter(Path(tmp, "reference.parquet"), batch.schema, compression="zstd")
            writer.write_batch(batch)
        writer.close()
        t_ref = time.perf_counter() - t0
        rss_ref = peak_rss_mb()
        t0 = time.perf_counter()
        result = ingest_survey(
            "synthetic_stars",
            rows=args.rows,
            seed=args.seed,
            fs=pafs.LocalFileSystem(),
            catalogs_root=f"{tmp}/catalogs",
            raw_root=f"{tmp}/raw",
            max_rows_per_partition=args.max_rows_per_partition,
        )
        t_ingest = time.perf_counter() - t0
        print(f"rows                          {result.n_rows:,}")
        print(f"partitions                    {result.metadata['n_partitions']}")
        print(f"reference (generate+write)    {t_ref:8.1f} s  {args.rows / t_ref:12,.0f} rows/s")
        print(f"ingest (generate+validate+    {t_ingest:8.1f} s  {args.rows / t_ingest:12,.0f} rows/s")
        print("        partition+commit)")
        print(f"ingest / reference time       {t_ingest / t_ref:8.2f}x")
        print(f"peak RSS: after reference {rss_ref:,.0f} MB, after ingest {peak_rss_mb():,.0f} MB")


if __name__ == "__main__":
    main()
