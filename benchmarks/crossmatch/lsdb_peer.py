"""LSDB, the Dask/HATS peer, on the benchmark's data: its own venv, the HATS import, then the timed cross-match.

LSDB is a benchmark-only peer, never a radiolake dependency: `ensure_venv()` builds `.venv-bench` (lsdb +
hats-import pinned in benchmarks/envs/lsdb/requirements.txt, rebuilt only when the pins change; `make bench`)
and the work runs in that interpreter as `python lsdb_peer.py import|match DATA` (this file imports nothing
from radiolake, so it runs there as-is).

- import: hats-import turns stars (HATS-like pixel files) and radio.parquet into HATS catalogues, plus a
  margin cache for the stars (threshold >= the match radius, so pairs across partition edges are found).
  LSDB needs this step; radiolake reads plain Parquet, so it is timed and reported apart.
- match: open both catalogues (source_id, ra, dec), cross-match radio -> stars at 2" and compute the pair
  table, on 2 cores (Dask threaded scheduler, 2 workers). LSDB has no all-pairs-within-radius algorithm: its
  KdTreeCrossmatch returns the n_neighbors nearest within the radius. We ask for N_NEIGHBORS, far above the
  densest 2" cone of the data (~1 star expected per cone), and report the largest count per source seen: if it
  ever reached N_NEIGHBORS the pair set would be truncated, and the phase says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "benchmarks" / "envs" / "lsdb" / "requirements.txt"
PINS = tuple(ln.strip() for ln in REQUIREMENTS.read_text().splitlines() if ln.strip() and not ln.startswith("#"))
N_NEIGHBORS = 32
MARGIN_ARCSEC = 5.0
WORKERS = 2
VENV = ROOT / ".venv-bench"


def ensure_venv() -> Path:
    """The benchmark-only venv's python (created with this interpreter's Python version, same as .venv)."""
    py = VENV / "bin" / "python"
    stamp = VENV / ".radiolake-stamp"
    want = " ".join(PINS)
    if py.exists() and stamp.exists() and stamp.read_text() == want:
        return py
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", *PINS], check=True)
    stamp.write_text(want)
    return py


def hats_import(data: Path) -> dict:
    """HATS catalogues of stars (+ margin) and radio under data/hats; seconds per step."""
    import shutil

    from dask.distributed import Client
    from hats_import.catalog.arguments import ImportArguments
    from hats_import.margin_cache.margin_cache_arguments import MarginCacheArguments
    from hats_import.pipeline import pipeline_with_client

    out = data / "hats"
    shutil.rmtree(out, ignore_errors=True)
    tmp = data / "hats-tmp"
    common = {"output_path": out, "file_reader": "parquet", "progress_bar": False, "tmp_dir": tmp,
              "resume": False}
    star_files = sorted((data / "stars").rglob("*.parquet"))
    timings = {}
    with Client(n_workers=WORKERS, threads_per_worker=1, processes=True, local_directory=tmp,
                dashboard_address=None) as client:
        t0 = time.perf_counter()
        pipeline_with_client(ImportArguments(output_artifact_name="stars", input_file_list=star_files,
                                             **common), client)
        timings["stars_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pipeline_with_client(
            MarginCacheArguments(input_catalog_path=out / "stars", output_artifact_name="stars_margin",
                                 margin_threshold=MARGIN_ARCSEC, output_path=out, progress_bar=False,
                                 tmp_dir=tmp, resume=False),
            client,
        )
        timings["stars_margin_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        pipeline_with_client(ImportArguments(output_artifact_name="radio", input_file_list=[data / "radio.parquet"],
                                             **common), client)
        timings["radio_s"] = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    timings["total_s"] = sum(timings.values())
    return timings


def _pairs(hats: Path, radius_arcsec: float):
    import lsdb

    stars = lsdb.open_catalog(hats / "stars", columns=["source_id", "ra", "dec"], margin_cache=hats / "stars_margin")
    radio = lsdb.open_catalog(hats / "radio", columns=["source_id", "ra", "dec"])
    xm = radio.crossmatch(stars, n_neighbors=N_NEIGHBORS, radius_arcsec=radius_arcsec, suffixes=("_radio", "_star"),
                          suffix_method="all_columns", require_right_margin=True, log_changes=False)
    return xm.compute(), len(stars.get_healpix_pixels()), len(radio.get_healpix_pixels())


def match(data: Path, radius_arcsec: float) -> dict:
    """Open the catalogues and compute the radio -> stars pair table within radius_arcsec, on 2 workers.

    Timed twice in this process: cold (what a user's script sees: hats JIT-compiles its pixel alignment with
    numba in every new process, tens of seconds) and warm (the same call again, compiled code reused)."""
    import dask
    import lsdb  # noqa: F401 - imported before the clock: timed from opening the catalogues to the pair table

    hats = data / "hats"
    with dask.config.set(scheduler="threads", num_workers=WORKERS):
        t0 = time.perf_counter()
        pairs, n_star_parts, n_radio_parts = _pairs(hats, radius_arcsec)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        again, _, _ = _pairs(hats, radius_arcsec)
        warm = time.perf_counter() - t0
    per_source = pairs.groupby("source_id_radio").size()
    # the pair ids, for the benchmark's check against the reference (after the clock)
    pairs[["source_id_radio", "source_id_star"]].rename(
        columns={"source_id_radio": "radio_id", "source_id_star": "star_id"}).to_parquet(data / "lsdb_pairs.parquet")
    return {
        "wall_s": cold,
        "warm_s": warm,
        "pairs": len(pairs),
        "pairs_warm": len(again),
        "max_per_source": int(per_source.max()) if len(per_source) else 0,
        "n_neighbors": N_NEIGHBORS,
        "truncated": bool(len(per_source) and per_source.max() >= N_NEIGHBORS),
        "star_partitions": n_star_parts,
        "radio_partitions": n_radio_parts,
    }

if __name__ == "__main__":
    step, folder = sys.argv[1], Path(sys.argv[2])
    result = hats_import(folder) if step == "import" else match(folder, float(sys.argv[3]))
    print(json.dumps(result))
