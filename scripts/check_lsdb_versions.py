"""Read every committed version of a local radiolake catalogue with LSDB and compare with radiolake's reader.

lsdb is not a product dependency: run this in the benchmarks' LSDB venv (`.venv-bench`, built by `make bench`,
lsdb pinned in benchmarks/envs/lsdb) or a throwaway one (`python -m venv /tmp/lsdb-venv &&
/tmp/lsdb-venv/bin/pip install lsdb`), on a catalogue written with `ingest --local`:

    .venv-bench/bin/python scripts/check_lsdb_versions.py <local folder>/<catalogue name>

`make bench` runs it over a grown catalogue (`python -m benchmarks.hats_versions --lsdb`).

Only `radiolake.ingest.catalog` and `radiolake.ingest.hats_files` are imported (pyarrow only). Exits 1 if a
version's rows read by LSDB, through its `_metadata`, and by radiolake differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lsdb
import pyarrow.dataset as ds
import pyarrow.fs as pafs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from radiolake.ingest import catalog as cat  # noqa: E402
from radiolake.ingest.hats_files import SharedPartitionPaths  # noqa: E402


def check(base: str) -> bool:
    fs, same = pafs.LocalFileSystem(), True
    print(f"lsdb {lsdb.__version__}; catalogue {base}")
    for version, committed in cat.list_versions(fs, base).items():
        if not committed:
            continue
        info = cat.open_catalog(fs, base, version)
        catalog = lsdb.open_catalog(info.path, path_generator=SharedPartitionPaths.of(info))
        frame = catalog.compute()
        moc = catalog.hc_structure.moc
        via_metadata = ds.parquet_dataset(f"{info.path}/dataset/_metadata").count_rows()
        ids = set(cat.read_catalog(fs, base, columns=["source_id"], version=version).column(0).to_pylist())
        ok = len(frame) == via_metadata == info.n_rows and set(frame["source_id"]) == ids
        same &= ok
        shared = sum(1 for p in info.partitions if p.get("version") and p["version"] != version)
        print(f"{version}: {len(info.partitions)} partitions ({shared} shared), rows: lsdb {len(frame):,}, "
              f"_metadata {via_metadata:,}, radiolake {info.n_rows:,}, same ids {ok}; LSDB's moc (point map): "
              f"{'none' if moc is None else f'{moc.sky_fraction:.5f} of the sky'}")
    return same


if __name__ == "__main__":
    sys.exit(0 if check(sys.argv[1].rstrip("/")) else 1)
