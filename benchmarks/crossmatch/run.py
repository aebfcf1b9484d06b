"""Benchmark: the cross-match CLI (whole process, Spark start included) vs astropy, measured in the same run.

A 10 x 10 deg (100 deg^2) patch: N stars at J2016 and M radio sources (10% at stars), matched at 2". The stars
come in one of two layouts (--layout): `hats`, a folder of order-4 pixel files sorted by healpix as a lake
catalogue is written, or `plain`, the same rows as ONE Parquet file in random order, as a user's own file
usually is. Each engine runs in its own process, measured the same way by this process: wall time, CPU seconds
(user + system of the whole process tree), peak RSS of the tree (driver, JVM, Python workers), under the same
memory limit for every system (--mem-limit-gb; the huge size sets 12 GB). Phases are rotated between rounds,
and every timed run's pairs are compared with an astropy reference (reference.py), failing the benchmark on
any difference. Results are saved as JSON with the commit under benchmarks/results/.
  astropy   SkyCoord + search_around_sky at catalogue positions, from Parquet read to pair arrays (no epoch
            propagation: it has no per-row epochs);
  cli0      `radiolake crossmatch --offsets 0` as a user runs it (`--executor auto`: on a local master, a pool
            of --master's worker count, no JVM): epochs, rank, density, all tables written;
  cli8      the same with the default 8 offset skies (target: >= 0.5x astropy's single-sky time);
  eng0/8    the same commands attached to a running engine (`radiolake engine start`, started untimed before
            the rounds; engine_phase.py): a new console-script process whose run the engine forks warm;
  spark0/8  (with --spark) the same on Spark local[2] (`--executor spark`), in the same rounds;
  still / gaia (with --motions): radio epochs 1993-2024; `still` has all proper motions zero, `gaia` 0.1% of
            stars above 1"/yr (up to 10"/yr): the ratio gaia/still is the cost of fast movers (target <= 1.5);
  api       radiolake's Python API in one process, called twice (api_phase.py): `wall_s` the first call,
            `warm_s` the second, tables in memory, nothing written: the peer of LSDB's warm call;
  core      the same engine in one process (numpy), for the profile (--core).
Prints wall time, rows/s, CPU seconds, peak RSS, the load average, and ratios against astropy measured in the
same run.

    python -m benchmarks.crossmatch --size small              # 1 M stars x 100 k radio
    python -m benchmarks.crossmatch --size small --layout plain   # the same stars as one unsorted file
    python -m benchmarks.crossmatch --size large --data .bench-cache/large   # 10 M x 1 M, data kept
    ... --lsdb (the LSDB peer, in .venv-bench)  --partial (radio over a quarter of the stars: bytes read)
    python -m benchmarks.crossmatch --size huge --data .bench-cache/huge  # 100 M x 10 M, with and without offset skies
"""

from __future__ import annotations

import argparse
import contextlib
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
from benchmarks.crossmatch import api_phase, engine_phase, extras, reference  # noqa: E402

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


LAYOUTS = ("hats", "plain")
#: Phases whose engine moves each star to its radio row's epoch: checked against the `moved` reference. The
#: others (astropy as timed, LSDB) match at catalogue positions and are checked against the `static` one.
MOVES_STARS = frozenset({"cli0", "cli8", "eng0", "eng8", "spark0", "spark8", "core", "api"})
#: The CLI's phases: offset skies and --executor (eng*: attached to the engine, engine_phase.py).
CLI_PHASES = {"cli0": ("0", "auto"), "cli8": ("8", "auto"), "eng0": ("0", "auto"), "eng8": ("8", "auto"),
              "spark0": ("0", "spark"), "spark8": ("8", "spark")}
RESULTS = Path(__file__).resolve().parents[1] / "results"


def stars_path(folder: Path, layout: str) -> Path:
    """The stars in `layout`: the pixel-file folder, or the same rows as one file in random order (made once
    from the folder, untimed, with pyarrow's default row groups as a user's writer would leave them)."""
    if layout == "hats":
        return folder / "stars"
    plain = folder / "stars-plain.parquet"
    if not plain.exists():
        import pyarrow.parquet as pq

        table = pq.read_table(folder / "stars")
        if table.num_rows > SIZES["large"][0]:
            raise SystemExit("--layout plain holds the stars in memory once: sizes up to large")
        tmp = plain.with_name(plain.name + ".tmp")
        pq.write_table(table.take(np.random.default_rng(7).permutation(table.num_rows)), tmp)
        tmp.rename(plain)
    return plain


class TreePeak:
    """Polls the RSS of a process and its descendants (JVM, Python workers) for the peak, and which processes
    made it: `at_peak` splits the peak into the driver (the root process), the JVM(s) and the Python workers.

    With `limit_bytes`, the tree is killed when its RSS passes the limit (`exceeded` is then True): the same
    memory limit for every system measured, instead of an address-space cap that only some survive (a JVM
    reserves far more address space than it uses)."""

    def __init__(self, pid: int | None = None, limit_bytes: float | None = None) -> None:
        import psutil

        self.me = psutil.Process(pid)
        self.limit = limit_bytes
        self.exceeded = False
        self.total = 0
        self.worker = 0
        self.at_peak: dict[str, float] = {}
        self._cpu: dict[int, float] = {}  # pid -> user + system seconds when last seen
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
                        t = p.cpu_times()
                        self._cpu[p.pid] = t.user + t.system
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
                if self.limit and total > self.limit and not self.exceeded:
                    self.exceeded = True
                    for p in reversed(procs):
                        with contextlib.suppress(Exception):
                            p.kill()
            except Exception:  # noqa: BLE001
                pass
            time.sleep(0.2)

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process seen in the tree, as last sampled (a process that is never waited
        for, such as a JVM its driver leaves to exit, is missing from the parent's rusage)."""
        return sum(self._cpu.values())

    def _roles(self, procs: list, rss: list[tuple[str, int]]) -> dict[str, float]:
        """MB by role: the JVM(s), the Python workers (children of the JVM), the rest (the root, the driver)."""
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


def _write_pairs(path: Path, radio_ids, star_ids) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"radio_id": radio_ids, "star_id": star_ids}), path)


def phase_astropy(folder: Path, layout: str) -> dict:
    """search_around_sky at catalogue positions, from Parquet read to pair arrays (the timed part); the pairs'
    ids are written afterwards for the check."""
    import pyarrow.parquet as pq
    from astropy import units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    stars = stars_path(folder, layout)
    t0 = time.perf_counter()
    s = pq.read_table(stars, columns=["ra", "dec"])
    r = pq.read_table(folder / "radio.parquet", columns=["ra", "dec"])
    sc = SkyCoord(s["ra"].to_numpy() * u.deg, s["dec"].to_numpy() * u.deg)
    rc = SkyCoord(r["ra"].to_numpy() * u.deg, r["dec"].to_numpy() * u.deg)
    i, j, _, _ = search_around_sky(rc, sc, RADIUS * u.arcsec)
    wall = time.perf_counter() - t0
    import pyarrow as pa

    _write_pairs(folder / f"pairs-astropy-{layout}.parquet",
                 pq.read_table(folder / "radio.parquet", columns=["source_id"])["source_id"].take(pa.array(i)),
                 pq.read_table(stars, columns=["source_id"])["source_id"].take(pa.array(j)))
    return {"wall_s": wall, "pairs": int(i.size)}


def phase_core(folder: Path, layout: str) -> dict:
    """The same engine in one process (numpy), from Parquet read to result tables."""
    import pyarrow.parquet as pq

    from radiolake.crossmatch.core import crossmatch_frames

    t0 = time.perf_counter()
    stars = pq.read_table(stars_path(folder, layout)).to_pandas()
    radio = pq.read_table(folder / "radio.parquet").to_pandas()
    res = crossmatch_frames(radio, stars, RADIUS)
    wall = time.perf_counter() - t0
    pairs = res["pairs"]
    _write_pairs(folder / f"pairs-core-{layout}.parquet", pairs["radio_id"].astype(str).to_numpy(),
                 pairs["star_id"].astype(str).to_numpy())
    return {"wall_s": wall, "pairs": len(pairs)}


def _phase_command(phase: str, folder: Path, master: str, layout: str) -> tuple[list[str], Path]:
    """The command a phase runs and where it leaves its pairs: the CLI runs as a user runs it (whole process);
    the other engines through this file's --phase entry."""
    if phase in CLI_PHASES:
        out = folder / f"out-{phase}-{layout}"
        cli = Path(sys.executable).parent / "radiolake"
        offsets, executor = CLI_PHASES[phase]
        return [str(cli), "crossmatch", "--radio", str(folder / "radio.parquet"), "--stars",
                str(stars_path(folder, layout)), "--radius-arcsec", str(RADIUS), "--fixed-radius", "--offsets",
                offsets, "--out", str(out), "--master", master, "--executor", executor], out / "pairs"
    pairs = folder / ("lsdb_pairs.parquet" if phase == "lsdb" else f"pairs-{phase}-{layout}.parquet")
    return [sys.executable, str(Path(__file__).resolve()), "--phase", phase, "--data", str(folder), "--master",
            master, "--layout", layout], pairs


def run_phase(phase: str, folder: Path, master: str, layout: str = "hats", limit_gb: float | None = None) -> dict:
    """Run one phase in a child process, measured from here: whole-process wall time, CPU seconds of the
    tree (user + system of the child and what it waited for), peak RSS of the tree under `limit_gb`; then
    its pairs compared with the reference (untimed)."""
    cmd, pairs_path = _phase_command(phase, folder, master, layout)
    env = engine_phase.env(folder, phase, own_home=phase[:3] in ("cli", "eng", "api")) \
        if phase in CLI_PHASES or phase == "api" else None
    engine = engine_phase.EngineUse(folder) if phase in engine_phase.ENGINE_PHASES else contextlib.nullcontext()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with engine:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        with TreePeak(proc.pid, limit_gb * 2**30 if limit_gb else None) as peak:
            stdout, stderr = proc.communicate()
        process_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # rusage counts the waited-for processes exactly; sampling also sees those never waited for
    cpu_s = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), peak.cpu_s)
    if peak.exceeded:
        return {"failed": f"exceeded the {limit_gb:g} GB memory limit", "after_s": process_s, "cpu_s": cpu_s}
    if proc.returncode != 0:
        raise RuntimeError(f"{phase} failed ({proc.returncode}): {stderr.strip()[-2000:]}")
    if isinstance(engine, engine_phase.EngineUse):
        if not engine.result()["engine_served"]:
            raise RuntimeError(f"{phase} was not served by the engine: {stderr.strip()[-500:]}")
        cpu_s += engine.cpu_s  # the run's work was done by the engine's child, outside this tree
    if phase in CLI_PHASES:
        run = json.loads((pairs_path.parent / "run.json").read_text())
        result = {"wall_s": process_s, "pairs": run["n_pairs"], "steps_s": run["timings_s"],
                  "task_s": run.get("task_seconds"), "bytes_read": run.get("star_bytes_read"),
                  "bytes_near_footprint": run.get("star_bytes_near_footprint"),
                  "n_fast_stars": run.get("n_fast_stars")}
    else:
        result = json.loads(stdout.strip().splitlines()[-1])
    result.update(process_s=process_s, cpu_s=cpu_s, at_peak=peak.at_peak,
                  peak_python_worker_mb=peak.worker / 2**20)
    if isinstance(engine, engine_phase.EngineUse):
        result.update(engine.result(), peak_rss_mb=(peak.total + engine.peak.total) / 2**20)
    result.setdefault("peak_rss_mb", peak.total / 2**20)  # LSDB reports its match's own peak (import apart)
    result.update(check_phase(phase, folder, pairs_path))
    return result


def check_phase(phase: str, folder: Path, pairs_path: Path) -> dict:
    """The phase's pairs against the reference: the engine's own answer, never just its count."""
    import pyarrow.parquet as pq

    candidates = reference.reference_candidates(folder, RADIUS)
    found = pq.read_table(pairs_path, columns=["radio_id", "star_id"])
    check = reference.check_pairs(phase, found, candidates, RADIUS, moved=phase in MOVES_STARS)
    return {"pair_check": check.line(), "pairs_ok": check.ok}


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
    print(f"{'engine':<9} {'wall s':>8} {'CPU s':>7} {'rows/s':>12} {'peak MB':>9} {'pairs':>9} "
          f"{'vs ' + ref_name:>12}  pairs checked")
    for name, r in results.items():
        if "wall_s" not in r:
            print(f"{name:<9} {r.get('failed', 'no result')} after {r.get('after_s', float('nan')):.1f} s")
            continue
        print(f"{name:<9} {r['wall_s']:>8.1f} {r.get('cpu_s', float('nan')):>7.1f} {rows / r['wall_s']:>12,.0f} "
              f"{r['peak_rss_mb']:>9.0f} {r['pairs']:>9,} {ref_wall / r['wall_s']:>11.2f}x  "
              f"{'identical' if r.get('pairs_ok') else 'DIFFERENT'}")


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one of an even count)."""
    ordered = sorted(runs, key=lambda r: r.get("wall_s", float("inf")))
    return ordered[(len(ordered) - 1) // 2]


def rotated(phases: list[str], k: int) -> list[str]:
    """Round k's order: each phase goes first in turn, so none always runs on a cold (or warm) machine."""
    k %= len(phases)
    return phases[k:] + phases[:k]


def save(results: dict, args: argparse.Namespace, rounds: list[dict], where: Path = RESULTS) -> Path:
    """The results as JSON under benchmarks/results/, with the commit they measured (and whether the work
    tree had changes), the machine's cores and the arguments."""
    def git(*a: str) -> str:
        out = subprocess.run(["git", *a], cwd=RESULTS.parent.parent, capture_output=True, text=True)
        return out.stdout.strip()

    where.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = where / f"crossmatch-{args.size}-{args.layout}-{stamp}.json"
    path.write_text(json.dumps({
        "benchmark": "crossmatch", "commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain")),
        "utc": stamp, "cores": os.cpu_count(), "args": vars(args), "rounds": rounds, "results": results,
    }, indent=1, default=str))
    return path


def save_costs(folder: Path, args: argparse.Namespace, results: dict) -> dict:
    """Per-row costs of the tasks and the fixed part of a run, from the cli0 and cli8 medians and the plan of
    the same inputs (radiolake.crossmatch.estimate): task CPU-s = a x star rows + b x radio sky rows (two
    runs, two unknowns); fixed = wall - task CPU-s / cores. Written where `radiolake plan` reads them."""
    from radiolake.crossmatch.estimate import COSTS_FILE, estimate
    from radiolake.crossmatch.match_config import MatchConfig
    from radiolake.crossmatch.plan_cli import _star_location

    stars, _ = _star_location(str(stars_path(folder, args.layout)))
    radio = str(folder / "radio.parquet")
    est = {n: estimate(radio, stars, MatchConfig(radius_arcsec=RADIUS, n_offsets=n)) for n in (0, 8)}
    task = {n: results[f"cli{n}"]["task_s"]["sum"] for n in (0, 8)}
    b = max((task[8] - task[0]) / max(est[8].radio_sky_rows - est[0].radio_sky_rows, 1), 0.0)
    a = max((task[0] - b * est[0].radio_sky_rows) / max(est[0].star_rows, 1), 0.0)
    cores = int(args.master.removeprefix("local[").removesuffix("]")) if args.master.startswith("local[") else 2
    costs = {"star_row_s": a, "radio_sky_row_s": b,
             "fixed_s": max(results["cli0"]["wall_s"] - task[0] / cores, 0.0), "cores": cores,
             "measured": f"{time.strftime('%Y-%m-%d', time.gmtime())}, {args.size} {args.layout}, {args.master}, "
                         f"{os.cpu_count()}-core machine, {load()}"}
    COSTS_FILE.write_text(json.dumps(costs, indent=1) + "\n")
    return costs


def run_rounds(phases: list[str], args: argparse.Namespace, folder: Path, limit_gb: float | None) -> list[dict]:
    """`--repeat` rounds of every phase, each round's order rotated; each run printed as it ends."""
    rounds: list[dict] = []
    for k in range(max(args.repeat, 1)):
        rounds.append({})
        for phase in rotated(phases, k):
            rounds[-1][phase] = run_phase(phase, folder, args.master, args.layout, limit_gb)
            print(f"{phase}: {json.dumps(rounds[-1][phase], default=str)}  ({load()})", flush=True)
    return rounds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="small")
    ap.add_argument("--layout", choices=LAYOUTS, default="hats",
                    help="stars as healpix-sorted pixel files (a lake catalogue) or one unsorted file")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--data", help="data folder (kept; generated if empty)")
    ap.add_argument("--phase", choices=["astropy", "core", "lsdb", "api"], help=argparse.SUPPRESS)
    ap.add_argument("--core", action="store_true", help="also time the one-process numpy engine")
    ap.add_argument("--no-offsets", action="store_true", help="skip the 8-offset-skies run")
    ap.add_argument("--motions", action="store_true", help="also the Gaia-like motions vs no motion pair")
    ap.add_argument("--spark", action="store_true",
                    help="also the CLI on Spark (--executor spark) in the same rounds: spark0, spark8")
    ap.add_argument("--lsdb", action="store_true", help="also the LSDB peer (HATS import timed apart)")
    ap.add_argument("--no-engine", action="store_true",
                    help="skip the phases attached to a running engine (eng0, eng8)")
    ap.add_argument("--no-api", action="store_true",
                    help="skip the in-process Python API phase (api: a cold and a warm call)")
    ap.add_argument("--partial", action="store_true", help="also radio over a quarter of the star patch")
    ap.add_argument("--mem-limit-gb", type=float, default=None,
                    help="kill any system's process tree above this RSS (default: none; 12 for --size huge)")
    ap.add_argument("--results", type=Path, default=RESULTS, help="folder for the results JSON")
    ap.add_argument("--save-costs", action="store_true",
                    help="write the per-row costs `radiolake plan` uses (radiolake/crossmatch/plan_costs.json) "
                         "from this run's cli0 and cli8 medians: the older two-run model, without the per-task "
                         "and driver terms; `python -m benchmarks plan-check --save-costs` fits the full one")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of the main phases, rotated; the table shows each phase's median run "
                         "(on a shared or virtual machine one round can be off by 20%%)")
    args = ap.parse_args()
    if args.phase:
        fn = {
            "astropy": lambda f: phase_astropy(f, args.layout),
            "core": lambda f: phase_core(f, args.layout),
            "lsdb": lambda f: extras.phase_lsdb(f, RADIUS),
            "api": lambda f: api_phase.phase_api(f, stars_path(f, args.layout), args.master, RADIUS,
                                                 f / f"pairs-api-{args.layout}.parquet"),
        }
        print(json.dumps(fn[args.phase](Path(args.data))))
        return 0
    n_stars, n_radio = SIZES[args.size]
    limit_gb = args.mem_limit_gb if args.mem_limit_gb is not None else (12.0 if args.size == "huge" else None)
    tmp = None
    folder = Path(args.data) if args.data else Path(tmp := tempfile.mkdtemp(prefix="radiolake-xbench-"))
    ensure_data(folder, n_stars, n_radio)
    stars_path(folder, args.layout)
    reference.reference_candidates(folder, RADIUS)
    rows = n_stars + n_radio
    print(f"{load()}; {os.cpu_count()} cores; stars as {args.layout}; memory limit "
          f"{f'{limit_gb:g} GB' if limit_gb else 'none'} for every system", flush=True)
    engine = [] if args.no_engine else ["eng0", *([] if args.no_offsets else ["eng8"])]
    phases = ["astropy", "cli0", *engine, *([] if args.no_offsets else ["cli8"]),
              *(["spark0", *([] if args.no_offsets else ["spark8"])] if args.spark else []),
              *(["core"] if args.core else []), *([] if args.no_api else ["api"]),
              *(["lsdb"] if args.lsdb else [])]
    if args.layout == "plain":  # untimed: the sorted copy of the stars goes into the phases' input cache
        run_phase("cli0", folder, args.master, args.layout, limit_gb)
    try:
        rounds = run_rounds(phases, args, folder, limit_gb)
    finally:
        if engine:
            engine_phase.stop_engine(folder)
    results = {phase: median_run([r[phase] for r in rounds]) for phase in phases}
    if len(rounds) > 1:
        for phase in phases[1:]:
            ratios = [r["astropy"].get("wall_s", float("nan")) / r[phase].get("wall_s", float("nan")) for r in rounds]
            print(f"{phase} vs astropy per round: {', '.join(f'{x:.2f}x' for x in ratios)}; "
                  f"median {statistics.median(ratios):.2f}x")
    area = "~1000" if args.size == "huge" else "100"
    table(f"cross-match {n_stars:,} stars x {n_radio:,} radio, {area} deg^2, {RADIUS} arcsec, stars as {args.layout}, "
          f"Spark {args.master} (cli = whole process incl. Spark start)", results, rows,
          results["astropy"].get("wall_s", float("nan")), "astropy")
    c0 = results["cli0"]
    print(f"cli0 steps (s): {c0.get('steps_s')}; tasks {c0.get('task_s')}; at the memory peak (MB): "
          f"{c0.get('at_peak')}")
    if c0.get("bytes_read"):
        print(f"star bytes read {c0['bytes_read'] / 2**20:.1f} MiB of {c0['bytes_near_footprint'] / 2**20:.1f} MiB "
              f"in the pixels the footprint + margin touches ({c0['bytes_read'] / c0['bytes_near_footprint']:.2f}); "
              f"all star files {extras.chunked_data.star_bytes(folder) / 2**20:.1f} MiB")
    if args.lsdb:
        warm = [r["lsdb"]["warm_s"] for r in rounds if "warm_s" in r.get("lsdb", {})]
        if warm:  # the median of LSDB's warm calls, not the warm call of its median cold run
            results["lsdb"] = {**results["lsdb"], "warm_s": statistics.median(warm)}
        extras.report_lsdb(results)
    api_warm = [r["api"]["warm_s"] for r in rounds if "warm_s" in r.get("api", {})]
    if api_warm:  # as LSDB's: the median of the warm calls
        results["api"] = {**results["api"], "warm_s": statistics.median(api_warm)}
    engine_phase.report(rounds, args.layout)
    if args.partial:
        results["partial"] = extras.partial_footprint(folder, args.size, n_radio, args.master)
    if args.motions:
        moving = {}
        for motions in ("still", "gaia"):
            sub = folder.parent / f"{folder.name}-{motions}"
            ensure_data(sub, n_stars, n_radio, motions)
            moving[motions] = run_phase("cli0", sub, args.master)
            print(f"{motions}: {json.dumps(moving[motions], default=str)}  ({load()})", flush=True)
        table("proper motions: radio epochs 1993-2024; gaia = 0.1% of stars at 1-10 arcsec/yr", moving, rows,
              moving["still"]["wall_s"], "still")
        print(f"fast movers cost: gaia / still = {moving['gaia']['wall_s'] / moving['still']['wall_s']:.2f}x "
              f"(target <= 1.5), fast stars {moving['gaia']['n_fast_stars']}")
        results["motions"] = moving
    checks = [r for r in (*rounds[-1].values(), *[r for rr in rounds[:-1] for r in rr.values()],
                          *results.get("motions", {}).values(), *results.get("partial", {}).values())
              if isinstance(r, dict) and "pair_check" in r]
    bad = [c["pair_check"] for c in checks if not c["pairs_ok"]]
    print(f"pairs checked against the astropy reference in {len(checks)} timed runs: "
          + ("all identical" if not bad else f"{len(bad)} DIFFERENT:\n  " + "\n  ".join(bad)))
    print(f"results: {save(results, args, rounds, args.results)}")
    if args.save_costs and not bad:
        print(f"per-row costs for radiolake plan: {save_costs(folder, args, results)}")
    print(json.dumps({"size": args.size, "layout": args.layout, "rows": rows, **results}, default=str))
    if tmp:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
