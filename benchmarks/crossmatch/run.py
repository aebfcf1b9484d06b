"""Benchmark: the cross-match CLI (whole process, Spark start included) vs astropy, measured in the same run.

A 10 x 10 deg (100 deg^2) patch: N stars (J2016, HATS-like folder of order-4 pixel files sorted by healpix)
and M radio sources (10% at stars), matched at 2". Each engine runs in its own process so peak memory is its
own (all processes of the tree: driver, JVM, Python workers):
  astropy   SkyCoord + search_around_sky at catalogue positions, from Parquet read to pair arrays (no epoch
            propagation: it has no per-row epochs);
  cli       `radiolake crossmatch --offsets 0` on Spark local[2]: epochs, rank, density, all tables written;
  cli_off8  the same with the default 8 offset skies (target: >= 0.5x astropy's single-sky time);
  still / gaia (with --motions): radio epochs 1993-2024; `still` has all proper motions zero, `gaia` 0.1% of
            stars above 1"/yr (up to 10"/yr): the ratio gaia/still is the cost of fast movers (target <= 1.5);
  core      the same engine in one process (numpy), for the profile (--core).
Prints wall time, rows/s, peak RSS, the load average, and ratios against astropy measured in the same run.

    python -m benchmarks.crossmatch --size small              # 1 M stars x 100 k radio
    python -m benchmarks.crossmatch --size large --data .bench-cache/large   # 10 M x 1 M, data kept
    ... --lsdb (the LSDB peer, in .venv-bench)  --partial (radio over a quarter of the stars: bytes read)
    python -m benchmarks.crossmatch --size huge --data .bench-cache/huge  # 100 M x 10 M, with and without offset skies
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script (the phases' subprocesses): make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.crossmatch import extras  # noqa: E402

SIZES = {"small": (1_000_000, 100_000), "large": (10_000_000, 1_000_000), "tiny": (100_000, 10_000),
         "huge": (100_000_000, 10_000_000)}  # huge: chunked, same density over ~1000 deg^2 (extras.py)
RADIUS = 2.0
RA0, DEC0, SIDE = 150.0, 0.0, 10.0


def generate(folder: Path, n_stars: int, n_radio: int, seed: int = 1, motions: str = "default") -> None:
    """Stars as a HATS-like folder (order 4 files, sorted by healpix), radio as one Parquet file.

    motions: "default" (pm ~ N(0, 6 mas/yr), radio epochs 2019-2024.5), "still" (no motion) or "gaia"
    (N(0, 6 mas/yr) plus 0.1% of stars at 1-10"/yr), both with radio epochs uniform in 1993-2024."""
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
    if motions == "still":
        pm[:] = 0.0
    elif motions == "gaia":
        fast = rng.random(n_stars) < 0.001
        speed = 1000 * 10 ** rng.uniform(0, 1, fast.sum())  # 1-10 arcsec/yr, log-uniform
        angle = rng.uniform(0, 2 * np.pi, fast.sum())
        pm[0, fast], pm[1, fast] = speed * np.sin(angle), speed * np.cos(angle)
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
            "epoch": rng.uniform(2019.0, 2024.5, n_radio) if motions == "default" else rng.uniform(1993, 2024, n_radio),
            "pmra": np.full(n_radio, np.nan),
            "pmdec": np.full(n_radio, np.nan),
            "parallax": np.full(n_radio, np.nan),
            "parallax_error": np.full(n_radio, np.nan),
            "healpix": hp(rra % 360, rdec),
        }
    )
    pq.write_table(radio, folder / "radio.parquet")


class TreePeak:
    """Polls the RSS of this process and its descendants (JVM, Python workers) for the peak, and which
    processes made it: `at_peak` splits the peak into the driver (Python), the JVM(s) and the Python workers."""

    def __init__(self) -> None:
        import psutil

        self.me = psutil.Process()
        self.total = 0
        self.worker = 0
        self.at_peak: dict[str, float] = {}
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
                total = sum(r for _, r in rss)
                if total > self.total:
                    self.total = total
                    self.at_peak = self._roles(procs, rss)
                py_workers = [
                    r for p, (n, r) in zip(procs, rss, strict=False) if "python" in n and p.pid != self.me.pid
                ]
                self.worker = max([self.worker, *py_workers])
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    def _roles(self, procs: list, rss: list[tuple[str, int]]) -> dict[str, float]:
        """MB by role: the JVM(s), the Python workers (children of the JVM), the rest (this process, driver)."""
        out = {"driver_mb": 0.0, "jvm_mb": 0.0, "python_workers_mb": 0.0}
        jvms = {p.pid for p, (n, _) in zip(procs, rss, strict=False) if "java" in n}
        for p, (_, r) in zip(procs, rss, strict=False):
            try:
                under_jvm = any(a.pid in jvms for a in p.parents())
            except Exception:  # noqa: BLE001
                under_jvm = False
            role = "jvm_mb" if p.pid in jvms else "python_workers_mb" if under_jvm else "driver_mb"
            out[role] += r / 2**20
        return {k: round(v) for k, v in out.items()}

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


def phase_cli(folder: Path, master: str, offsets: int) -> dict:
    """The user's command, whole process: Python start, Spark start, the job, every table written."""
    cli = Path(sys.executable).parent / "radiolake"
    out = folder / f"out-cli-{offsets}"
    cmd = [str(cli), "crossmatch", "--radio", str(folder / "radio.parquet"), "--stars", str(folder / "stars"),
           "--radius-arcsec", str(RADIUS), "--offsets", str(offsets), "--out", str(out), "--master", master]
    with TreePeak() as peak:
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        wall = time.perf_counter() - t0
    run = json.loads((out / "run.json").read_text())
    return {
        "wall_s": wall,
        "pairs": run["n_pairs"],
        "steps_s": run["timings_s"],
        "task_s": run.get("task_seconds"),
        "bytes_read": run.get("star_bytes_read"),
        "bytes_near_footprint": run.get("star_bytes_near_footprint"),
        "n_fast_stars": run.get("n_fast_stars"),
        "peak_rss_mb": peak.total / 2**20,
        "at_peak": peak.at_peak,
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
        [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--data", str(folder), "--master", master],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def ensure_data(folder: Path, n_stars: int, n_radio: int, motions: str = "default") -> None:
    if not (folder / "radio.parquet").exists() and n_stars > SIZES["large"][0]:
        from benchmarks.crossmatch.extras import generate_huge

        generate_huge(folder, n_stars, n_radio)
    elif not (folder / "radio.parquet").exists():
        t0 = time.perf_counter()
        generate(folder, n_stars, n_radio, motions=motions)
        print(f"generated {n_stars:,} stars x {n_radio:,} radio ({motions}) in {time.perf_counter() - t0:.0f} s "
              f"-> {folder}", flush=True)


def table(title: str, results: dict, rows: int, ref_wall: float, ref_name: str) -> None:
    print(f"\n{title}")
    print(f"{'engine':<9} {'wall s':>8} {'rows/s':>12} {'peak MB':>9} {'pairs':>9} {'vs ' + ref_name:>12}")
    for name, r in results.items():
        print(f"{name:<9} {r['wall_s']:>8.1f} {rows / r['wall_s']:>12,.0f} {r['peak_rss_mb']:>9.0f} "
              f"{r['pairs']:>9,} {ref_wall / r['wall_s']:>11.2f}x")


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: r.get("wall_s", float("inf")))
    return ordered[(len(ordered) - 1) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--data", help="data folder (kept; generated if empty)")
    ap.add_argument("--phase", choices=["astropy", "spark", "core", "cli0", "cli8", "lsdb"], help=argparse.SUPPRESS)
    ap.add_argument("--core", action="store_true", help="also time the one-process numpy engine")
    ap.add_argument("--no-offsets", action="store_true", help="skip the 8-offset-skies run")
    ap.add_argument("--motions", action="store_true", help="also the Gaia-like motions vs no motion pair")
    ap.add_argument("--lsdb", action="store_true", help="also the LSDB peer (HATS import timed apart)")
    ap.add_argument("--partial", action="store_true", help="also radio over a quarter of the star patch")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of the main phases, interleaved; the table shows each phase's median run "
                         "(on a shared or virtual machine one round can be off by 20%%)")
    args = ap.parse_args()
    if args.phase:
        fn = {
            "astropy": phase_astropy,
            "spark": lambda f: phase_spark(f, args.master),
            "core": phase_core,
            "cli0": lambda f: phase_cli(f, args.master, 0),
            "cli8": lambda f: phase_cli(f, args.master, 8),
            "lsdb": lambda f: extras.phase_lsdb(f, RADIUS),
        }
        print(json.dumps(fn[args.phase](Path(args.data))))
        return
    n_stars, n_radio = SIZES[args.size]
    tmp = None
    folder = Path(args.data) if args.data else Path(tmp := tempfile.mkdtemp(prefix="radiolake-xbench-"))
    ensure_data(folder, n_stars, n_radio)
    rows = n_stars + n_radio
    print(load(), flush=True)
    phases = ["astropy", "cli0", *([] if args.no_offsets else ["cli8"]), *(["core"] if args.core else []),
              *(["lsdb"] if args.lsdb else [])]
    rounds: list[dict] = []
    for _ in range(max(args.repeat, 1)):
        rounds.append({})
        for phase in phases:
            huge = phase == "astropy" and args.size == "huge"  # capped: a MemoryError, not the OOM killer
            rounds[-1][phase] = extras.astropy_capped(folder) if huge else run_phase(phase, folder, args.master)
            print(f"{phase}: {json.dumps(rounds[-1][phase])}  ({load()})", flush=True)
    results = {phase: median_run([r[phase] for r in rounds]) for phase in phases}
    if len(rounds) > 1:
        for phase in phases[1:]:
            ratios = [r["astropy"].get("wall_s", float("nan")) / r[phase]["wall_s"] for r in rounds]
            print(f"{phase} vs astropy per round: {', '.join(f'{x:.2f}x' for x in ratios)}; "
                  f"median {statistics.median(ratios):.2f}x")
    for key in ("wall_s", "pairs", "peak_rss_mb"):  # astropy failed under its cap: no reference time
        results["astropy"].setdefault(key, float("nan"))
    area = "~1000" if args.size == "huge" else "100"
    table(f"cross-match {n_stars:,} stars x {n_radio:,} radio, {area} deg^2, {RADIUS} arcsec, Spark {args.master}"
          " (cli = whole process incl. Spark start)", results, rows, results["astropy"]["wall_s"], "astropy")
    c0 = results["cli0"]
    print(f"cli0 steps (s): {c0['steps_s']}; tasks {c0['task_s']}; at the memory peak (MB): {c0.get('at_peak')}")
    if c0.get("bytes_read"):
        print(f"star bytes read {c0['bytes_read'] / 2**20:.1f} MiB of {c0['bytes_near_footprint'] / 2**20:.1f} MiB "
              f"in the pixels the footprint + margin touches ({c0['bytes_read'] / c0['bytes_near_footprint']:.2f}); "
              f"all star files {extras.chunked_data.star_bytes(folder) / 2**20:.1f} MiB")
    if args.lsdb:
        extras.report_lsdb(results)
    if args.partial:
        results["partial"] = extras.partial_footprint(folder, args.size, n_radio, args.master)
    if args.motions:
        moving = {}
        for motions in ("still", "gaia"):
            sub = folder.parent / f"{folder.name}-{motions}"
            ensure_data(sub, n_stars, n_radio, motions)
            moving[motions] = run_phase("cli0", sub, args.master)
            print(f"{motions}: {json.dumps(moving[motions])}  ({load()})", flush=True)
        table("proper motions: radio epochs 1993-2024; gaia = 0.1% of stars at 1-10 arcsec/yr", moving, rows,
              moving["still"]["wall_s"], "still")
        print(f"fast movers cost: gaia / still = {moving['gaia']['wall_s'] / moving['still']['wall_s']:.2f}x "
              f"(target <= 1.5), fast stars {moving['gaia']['n_fast_stars']}")
    print(json.dumps({"size": args.size, "rows": rows, **results}))
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
