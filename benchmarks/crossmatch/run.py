"""Benchmark: the Spark cross-match vs astropy search_around_sky on the same sky, measured in the same run.

A 10 x 10 deg (100 deg^2) patch: N stars (Gaia-like proper motions, J2016) and M radio sources (10% at stars,
epochs 2019-2024), matched at 2". Each engine runs in its own process so peak memory is its own:
  astropy  SkyCoord + search_around_sky at catalogue positions (no epoch propagation: it has no per-row
           epochs), timed from Parquet read to pair arrays;
  spark    the cross-match job on Spark local[2] (epochs, replicas, rank, density, all tables written),
           timed from submission to run.json; session start-up is reported apart;
  core     the same algorithm in one process (numpy core), for the profile.
Prints wall time, rows/s (stars + radio per second), peak RSS and the ratio job / astropy.

    python benchmarks/crossmatch/run.py --size small   # 1 M stars x 100 k radio (CI-feasible)
    python benchmarks/crossmatch/run.py --size large   # 10 M stars x 1 M radio
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SIZES = {"small": (1_000_000, 100_000), "large": (10_000_000, 1_000_000), "tiny": (100_000, 10_000)}
RADIUS = 2.0
RA0, DEC0, SIDE = 150.0, 0.0, 10.0


def generate(folder: Path, n_stars: int, n_radio: int, seed: int = 1) -> None:
    """Stars as a HATS-like folder (order 4 files, sorted by healpix), radio as one Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from astropy import units as u
    from astropy.coordinates import Latitude, Longitude
    from cdshealpix import nested

    rng = np.random.default_rng(seed)

    def patch(n):
        dec = np.degrees(
            np.arcsin(rng.uniform(np.sin(np.radians(DEC0 - SIDE / 2)), np.sin(np.radians(DEC0 + SIDE / 2)), n))
        )
        return rng.uniform(RA0 - SIDE / 2, RA0 + SIDE / 2, n), dec

    def hp(ra, dec):
        return nested.lonlat_to_healpix(Longitude(ra, unit=u.deg), Latitude(dec, unit=u.deg), 29).astype(np.int64)

    sra, sdec = patch(n_stars)
    order = np.argsort(hp(sra, sdec))
    sra, sdec = sra[order], sdec[order]
    shp = hp(sra, sdec)
    pm = rng.normal(0, 6, (2, n_stars))
    stars = pa.table(
        {
            "source_id": pa.array([f"gaia:{i}" for i in range(n_stars)]),
            "ra": sra,
            "dec": sdec,
            "ra_error": np.full(n_stars, 0.0003),
            "dec_error": np.full(n_stars, 0.0003),
            "epoch": np.full(n_stars, 2016.0),
            "pmra": pm[0],
            "pmdec": pm[1],
            "parallax": rng.exponential(0.5, n_stars),
            "parallax_error": np.full(n_stars, 0.05),
            "healpix": shp,
        }
    )
    pix4 = shp >> (2 * (29 - 4))
    for p in np.unique(pix4):
        d = folder / "stars" / "Norder=4" / "Dir=0"
        d.mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(pix4 == p)
        pq.write_table(stars.slice(idx[0], idx.size), d / f"Npix={p}.parquet", row_group_size=262_144)
    rra, rdec = patch(n_radio)
    n_true = n_radio // 10
    pick = rng.choice(n_stars, n_true, replace=False)
    rra[:n_true] = sra[pick] + rng.normal(0, 0.5, n_true) / 3600
    rdec[:n_true] = sdec[pick] + rng.normal(0, 0.5, n_true) / 3600
    radio = pa.table(
        {
            "source_id": pa.array([f"radio:{i}" for i in range(n_radio)]),
            "ra": rra % 360,
            "dec": rdec,
            "ra_error": np.full(n_radio, 0.5),
            "dec_error": np.full(n_radio, 0.5),
            "epoch": rng.uniform(2019.0, 2024.5, n_radio),
            "pmra": np.full(n_radio, np.nan),
            "pmdec": np.full(n_radio, np.nan),
            "parallax": np.full(n_radio, np.nan),
            "parallax_error": np.full(n_radio, np.nan),
            "healpix": hp(rra % 360, rdec),
        }
    )
    pq.write_table(radio, folder / "radio.parquet")


class TreePeak:
    """Polls the RSS of this process and its descendants (JVM, Python workers) for the peak."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.total = 0
        self.worker = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.me, *self.me.children(recursive=True)]
                rss = []
                for p in procs:
                    try:
                        rss.append((p.name(), p.memory_info().rss))
                    except Exception:  # noqa: BLE001 - a worker may exit between listing and reading
                        rss.append(("gone", 0))
                self.total = max(self.total, sum(r for _, r in rss))
                py_workers = [
                    r for p, (n, r) in zip(procs, rss, strict=False) if "python" in n and p.pid != self.me.pid
                ]
                self.worker = max([self.worker, *py_workers])
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def phase_astropy(folder: Path) -> dict:
    import pyarrow.parquet as pq
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    t0 = time.perf_counter()
    s = pq.read_table(folder / "stars", columns=["ra", "dec"])
    r = pq.read_table(folder / "radio.parquet", columns=["ra", "dec"])
    sc = SkyCoord(s["ra"].to_numpy() * u.deg, s["dec"].to_numpy() * u.deg)
    rc = SkyCoord(r["ra"].to_numpy() * u.deg, r["dec"].to_numpy() * u.deg)
    i, _, _, _ = search_around_sky(rc, sc, RADIUS * u.arcsec)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "pairs": int(i.size),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def phase_spark(folder: Path, master: str) -> dict:
    os.environ.setdefault("RADIOLAKE_SPARK_DRIVER_MEMORY", "4g")
    from radiolake.crossmatch.job import run_crossmatch
    from radiolake.spark_session import get_spark

    with TreePeak() as peak:
        t0 = time.perf_counter()
        spark = get_spark("radiolake-bench", master)
        startup = time.perf_counter() - t0
        t1 = time.perf_counter()
        summary = run_crossmatch(
            spark,
            str(folder / "radio.parquet"),
            str(folder / "stars"),
            str(folder / "out"),
            radius_arcsec=RADIUS,
            n_offsets=0,
            run_id="bench",
        )
        wall = time.perf_counter() - t1
    return {
        "wall_s": wall,
        "startup_s": startup,
        "pairs": summary["n_pairs"],
        "join_order": summary["join_order"],
        "steps_s": summary["timings_s"],
        "peak_rss_mb": peak.total / 2**20,
        "peak_python_worker_mb": peak.worker / 2**20,
    }


def phase_core(folder: Path) -> dict:
    import pyarrow.parquet as pq

    from radiolake.crossmatch.core import crossmatch_frames

    t0 = time.perf_counter()
    stars = pq.read_table(folder / "stars").to_pandas()
    radio = pq.read_table(folder / "radio.parquet").to_pandas()
    res = crossmatch_frames(radio, stars, RADIUS)
    wall = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "pairs": len(res["pairs"]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_phase(phase: str, folder: Path, master: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--data", str(folder), "--master", master],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--data", help="data folder (kept; generated if empty)")
    ap.add_argument("--phase", choices=["astropy", "spark", "core"], help=argparse.SUPPRESS)
    ap.add_argument("--skip-core", action="store_true")
    args = ap.parse_args()
    if args.phase:
        fn = {"astropy": phase_astropy, "spark": lambda f: phase_spark(f, args.master), "core": phase_core}
        print(json.dumps(fn[args.phase](Path(args.data))))
        return
    n_stars, n_radio = SIZES[args.size]
    tmp = None
    folder = Path(args.data) if args.data else Path(tmp := tempfile.mkdtemp(prefix="radiolake-xbench-"))
    if not (folder / "radio.parquet").exists():
        t0 = time.perf_counter()
        generate(folder, n_stars, n_radio)
        print(f"generated {n_stars:,} stars x {n_radio:,} radio in {time.perf_counter() - t0:.0f} s -> {folder}")
    rows = n_stars + n_radio
    results = {}
    for phase in ["astropy", *([] if args.skip_core else ["core"]), "spark"]:
        results[phase] = run_phase(phase, folder, args.master)
        print(f"{phase}: {json.dumps(results[phase])}", flush=True)
    ref = results["astropy"]
    print(
        f"\ncross-match {n_stars:,} stars x {n_radio:,} radio sources, 100 deg^2, {RADIUS} arcsec, Spark {args.master}"
    )
    print(f"{'engine':<8} {'wall s':>8} {'rows/s':>12} {'peak MB':>9} {'pairs':>9} {'rate vs astropy':>16}")
    for name, r in results.items():
        print(
            f"{name:<8} {r['wall_s']:>8.1f} {rows / r['wall_s']:>12,.0f} {r['peak_rss_mb']:>9.0f} {r['pairs']:>9,} "
            f"{ref['wall_s'] / r['wall_s']:>15.2f}x"
        )
    sp = results["spark"]
    print(
        f"spark: session start-up {sp['startup_s']:.1f} s (not in wall), join order {sp['join_order']}, "
        f"largest Python worker {sp['peak_python_worker_mb']:.0f} MB"
    )
    print("spark steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in sp["steps_s"].items()))
    print(json.dumps({"size": args.size, "rows": rows, **results}))
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
