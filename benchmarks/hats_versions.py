"""What a grown catalogue version writes instead of copying the partitions it shares (issue 22).

Hipparcos 2 (the shared data folder) ingested by three regions into a local lake; for each version: its own
partition files, the shared ones (the bytes a copy into the version folder would write), and the HATS files
that stand in for the copy (`dataset/_metadata` with the shared footers, `point_map.fits`). Sizes only, no
timings: run `python -m benchmarks.hats_versions [--max-rows N] [--lsdb]`. With `--lsdb` (what `make bench`
passes) LSDB, in its own venv (`.venv-bench`, never a product dependency), reads every version of the grown
catalogue through `scripts/check_lsdb_versions.py`; a version whose rows differ fails the benchmark.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.fs as pafs

from radiolake.ingest import catalog as cat
from radiolake.ingest.run import ingest_survey

HIP2 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hip2_epoch1991.25.csv.gz"
REGIONS = ("box:0,180,-90,90", "box:180,360,-90,90", "box:300,310,-10,10")


def measure(root: Path, max_rows: int) -> list[str]:
    fs = pafs.LocalFileSystem()
    kwargs = {"fs": fs, "catalogs_root": str(root / "catalogs"), "raw_root": str(root / "raw")}
    lines = ["| ingest | own partitions (bytes) | shared partitions (bytes a copy would write) | _metadata | "
             "point_map.fits |", "|---|---|---|---|---|"]
    for region in REGIONS:
        ingest_survey("hip2_csv", path=HIP2, region=region, name="hip2_grown", max_rows_per_partition=max_rows,
                      **kwargs)
        info = cat.open_catalog(fs, f"{root}/catalogs/hip2_grown")
        shared = [cat.partition_file(info.base, info.version, p) for p in info.partitions if p.get("version")]
        own = [cat.partition_file(info.base, info.version, p) for p in info.partitions if not p.get("version")]
        lines.append(f"| {region} | {len(own)} ({sum(map(os.path.getsize, own)):,}) | {len(shared)} "
                     f"({sum(map(os.path.getsize, shared)):,}) | "
                     f"{os.path.getsize(f'{info.path}/dataset/_metadata'):,} | "
                     f"{os.path.getsize(f'{info.path}/point_map.fits'):,} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=5000, help="rows per partition at most")
    parser.add_argument("--lsdb", action="store_true", help="check every version with LSDB in .venv-bench")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("RADIOLAKE_HOME", f"{tmp}/state")
        print("\n".join(measure(Path(tmp), args.max_rows)))
        if args.lsdb:
            sys.exit(check_with_lsdb(Path(tmp) / "catalogs" / "hip2_grown"))


def check_with_lsdb(base: Path) -> int:
    """Exit status of scripts/check_lsdb_versions.py run by LSDB's own venv over the grown catalogue."""
    from benchmarks.crossmatch.lsdb_peer import ensure_venv

    script = Path(__file__).resolve().parents[1] / "scripts" / "check_lsdb_versions.py"
    return subprocess.call([str(ensure_venv()), str(script), str(base)])


if __name__ == "__main__":
    main()
