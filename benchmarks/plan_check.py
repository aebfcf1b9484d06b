"""Benchmark: `radiolake plan`'s prediction against the run it predicts, at several sizes (issue 25).

For each size (stars x radio of benchmarks/crossmatch: tiny 0.1 M x 10 k, small 1 M x 100 k, large 10 M x 1 M,
the same 100 deg^2 patch) and each offset-sky count (0 and 8), the plan is computed first (untimed, from the
per-row costs in radiolake/crossmatch/plan_costs.json), then the CLI runs as a user runs it (whole process,
`--master local[2]`: its default executor, a pool of 2 local workers) and is measured from here. Printed and
saved as JSON with the commit:

- counts, which must be equal: partitions (star chunks = tasks), star rows, star bytes near the footprint;
- the star bytes the tasks read against the plan's [match columns, match + other columns] bounds;
- chance pairs: the plan's (footer densities x search area) against the 8 offset skies' mean count;
- pairs: the real sky's count against the plan's chance pairs + the true counterparts' bound;
- time: wall, task seconds and the process tree's CPU seconds, predicted / measured, flagged outside
  +/- TOLERANCE; the load average when each run began.

Each run's plan is scaled as `radiolake plan` scales it: the speed probe (radiolake/crossmatch/speed_probe.py,
a fraction of a second of the match kernel in as many processes as the run has workers) runs just before the
run; its CPU seconds over the costs' `probe_s` scale the CPU seconds, that times its contention (wall / CPU
seconds) taken half-way with the fit's the wall time (speed_probe.slowdown). The
probe runs again after the run (printed: how far the machine moved during it). The `raw` column is the wall
ratio without a probe (`radiolake plan --no-probe`: the costs at the load typical of their fit).

The costs come from earlier runs (`measured` in plan_costs.json): `--save-costs` fits them to this run's runs
by least squares, each run's seconds first divided by the factor its probes give (the mean of the probes
before and after it), so the costs hold for a core per process; then the table is in
the sample, and each size's wall ratio with the costs fitted to the other sizes only (out of the sample) is
printed too. Without --repeat every (size, offsets) runs once; with it, every run is a row of its own.

    python -m benchmarks plan-check                      # tiny, small, large; offsets 0 and 8
    python -m benchmarks plan-check --sizes tiny --offsets 0    # the CI size (tests/unit/test_bench_plan_check.py)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.crossmatch.run import RADIUS, SIZES, ensure_data, load, run_phase  # noqa: E402

TOLERANCE = 0.30  # |predicted / measured - 1| the time predictions must stay within (printed, not asserted)
RESULTS = ROOT / "benchmarks" / "results"


def predict(folder: Path, offsets: int) -> dict:
    """The plan of the CLI run on `folder` with `offsets` offset skies, with the saved costs as fitted (no
    speed scaling: `scaled` applies a probe)."""
    from radiolake.crossmatch.estimate import Costs, estimate
    from radiolake.crossmatch.match_config import MatchConfig

    costs = Costs.load()
    est = estimate(str(folder / "radio.parquet"), str(folder / "stars"),
                   MatchConfig(radius_arcsec=RADIUS, n_offsets=offsets), costs)
    cores = costs.cores if costs else 2
    return {**est.as_dict(), "wall_s": est.wall_s(cores), "cores": cores,
            "costs_measured": costs.measured if costs else None}


def scaled(plan: dict, costs: dict | None, probe: dict | None) -> dict:
    """`plan` with its times from `costs` scaled by `probe` (speed_probe.Probe.as_dict, before the run) as
    `radiolake plan` scales them: wall by the probe's wall seconds over the costs' probe_s (`wall_s`), CPU by
    its CPU seconds (`core_s`); `raw_wall_s` without the probe (at the fit's typical contention)."""
    from radiolake.crossmatch.estimate import Costs, Estimate, speed_factor
    from radiolake.crossmatch.speed_probe import Probe

    if costs is None:
        return {**plan, "raw_wall_s": plan.get("wall_s"), "core_s": None}
    c = Costs(**costs)
    now = Probe(probe["wall_s"], probe["cpu_s"], probe["processes"]) if probe else None
    est = Estimate(**{k: v for k, v in plan.items() if k in Estimate.__dataclass_fields__})
    raw, wall, cpu = (est.with_costs(c, speed_factor(c, p, cpu=k)) for p, k in ((None, False), (now, False),
                                                                                 (now, True)))
    return {**plan, **wall.as_dict(), "wall_s": wall.wall_s(c.cores), "raw_wall_s": raw.wall_s(c.cores),
            "core_s": cpu.core_s, "cpu_factor": cpu.speed_factor, "cores": c.cores, "costs_measured": c.measured}


def probe(processes: int) -> dict:
    from radiolake.crossmatch.speed_probe import probe as run_probe

    return run_probe(processes).as_dict()


def measure(folder: Path, offsets: int, master: str) -> dict:
    """The CLI run (benchmarks.crossmatch.run_phase: whole process, pairs checked against astropy) and its
    run.json."""
    phase = f"cli{offsets}"
    if phase not in ("cli0", "cli8"):
        raise SystemExit("--offsets: 0 or 8 (the crossmatch benchmark's two CLI phases)")
    res = run_phase(phase, folder, master)
    run = json.loads((folder / f"out-{phase}-hats" / "run.json").read_text())
    return {**res, "run": {k: run[k] for k in ("n_star_chunks", "n_stars", "n_radio", "n_pairs",
                                                "expected_false_matches", "star_bytes_read",
                                                "star_bytes_near_footprint", "task_seconds", "timings_s")}}


def compare(plan: dict, got: dict) -> dict:
    """Predicted vs measured: counts (equal or not), bounds, ratios (predicted / measured)."""
    run = got["run"]
    read = run["star_bytes_read"]
    lo, hi = plan["star_bytes_match_columns"], plan["star_bytes_match_columns"] + plan["star_bytes_other_columns"]
    chance_run = run["expected_false_matches"] if plan["n_skies"] > 1 else None

    def ratio(a, b):
        return None if a is None or not b else a / b

    out = {
        "partitions": [plan["partitions"], run["n_star_chunks"], plan["partitions"] == run["n_star_chunks"]],
        "star_rows": [plan["star_rows"], run["n_stars"], plan["star_rows"] == run["n_stars"]],
        "star_bytes_near_footprint": [hi, run["star_bytes_near_footprint"], hi == run["star_bytes_near_footprint"]],
        "star_bytes_read_within_plan": [lo, read, hi, lo <= read <= hi],
        "chance_pairs": [plan["expected_chance_pairs"], chance_run, ratio(plan["expected_chance_pairs"], chance_run)],
        "pairs_within_bound": [plan["expected_chance_pairs"], run["n_pairs"],
                               plan["expected_chance_pairs"] + plan["n_radio"]],
        "wall_s": [plan["wall_s"], got["wall_s"], ratio(plan["wall_s"], got["wall_s"])],
        "raw_wall_s": [plan.get("raw_wall_s"), got["wall_s"], ratio(plan.get("raw_wall_s"), got["wall_s"])],
        "task_cpu_s": [plan["task_cpu_s"], run["task_seconds"]["sum"],
                       ratio(plan["task_cpu_s"], run["task_seconds"]["sum"])],
        "cpu_s": [plan.get("core_s"), got.get("cpu_s"), ratio(plan.get("core_s"), got.get("cpu_s"))],
    }
    out["counts_equal"] = all(out[k][-1] for k in ("partitions", "star_rows", "star_bytes_near_footprint",
                                                    "star_bytes_read_within_plan"))
    for key in ("wall", "raw_wall", "cpu"):
        r = out["wall_s" if key == "wall" else f"{key}_s"][2]
        out[f"{key}_within_tolerance"] = r is not None and abs(r - 1) <= TOLERANCE
    return out


def speed_of(result: dict) -> tuple[float, float]:
    """(probe CPU s, probe wall s) around a run: the mean of the probes before and after it ((1, 1) for a
    result saved without probes)."""
    probes = [p for p in (result.get("probe"), result.get("probe_after")) if p]
    if not probes:
        return 1.0, 1.0
    return (sum(p["cpu_s"] for p in probes) / len(probes), sum(p["wall_s"] for p in probes) / len(probes))


def fit(results: list[dict], cores: int) -> dict:
    """Costs by non-negative least squares over the runs, each run's seconds first brought to the probes' median
    CPU seconds with no contention (/ speed_probe.slowdown of its probes, speed_of); the probes' median
    contention is kept with them (`radiolake plan` scales by it half-way): task CPU-s (run.json's task seconds) on
    [tasks, star rows, radio sky rows]; the driver's seconds (wall - task CPU-s / cores) on [1, radio rows,
    radio rows x offset skies]. `probe_s`: that median (0 for runs without probes: no scaling)."""
    import numpy as np
    from scipy.optimize import nnls

    from radiolake.crossmatch.speed_probe import slowdown

    plans = [r["plan"] for r in results]
    speeds = [speed_of(r) for r in results]
    probed = any(r.get("probe") for r in results)
    probe_s = float(np.median([c for c, _ in speeds])) if probed else 0.0
    contention = float(np.median([w / c for c, w in speeds])) if probed else 1.0
    norm = np.array([1.0 / slowdown(probe_s, w, c) for c, w in speeds])
    task = np.array([r["measured"]["run"]["task_seconds"]["sum"] for r in results]) * norm
    wall = np.array([r["measured"]["wall_s"] for r in results]) * norm
    a = np.array([[p["partitions"], p["star_rows"], p["radio_sky_rows"]] for p in plans], float)
    b = np.array([[1.0, p["n_radio"], p["n_radio"] * (p["n_skies"] - 1)] for p in plans])
    (task_s, star_row_s, radio_sky_row_s), _ = nnls(a, task)
    (fixed_s, driver_radio_row_s, driver_sky_row_s), _ = nnls(b, np.maximum(wall - task / cores, 0.0))
    sizes = sorted({r["size"] for r in results})
    return {"star_row_s": star_row_s, "radio_sky_row_s": radio_sky_row_s, "fixed_s": fixed_s, "cores": cores,
            "measured": f"{time.strftime('%Y-%m-%d', time.gmtime())}, fitted to {len(results)} CLI runs "
                        f"({', '.join(sizes)}; offsets {sorted({r['offsets'] for r in results})}), hats layout, "
                        f"local[{cores}], {os.cpu_count()}-core machine, {_loads(results)}",
            "task_s": task_s, "driver_radio_row_s": driver_radio_row_s, "driver_sky_row_s": driver_sky_row_s,
            "probe_s": probe_s, "probe_contention": contention,
            "probe_processes": max([(r.get("probe") or {}).get("processes", cores) for r in results] or [cores])}


def _loads(results: list[dict]) -> str:
    """The runs' 1-min load averages at their start (results saved without them: the load now)."""
    loads = [r["load"] for r in results if "load" in r]
    return f"runs at load average {min(loads):.1f}-{max(loads):.1f}" if loads else load()


def replication(results: list[dict], data_root: Path) -> dict:
    """Radio sky rows per radio row and sky in the largest size's plan with offset skies, for `radiolake plan`
    on catalogues described by metadata only (sky_plan.py): with replicas per sky, and with the ra/dec boxes
    the driver uses above engine.MAX_SKY_REPLICA_ROWS (planned again with that limit at 0; untimed)."""
    from radiolake.crossmatch import engine

    with_offsets = [r for r in results if r["offsets"] > 0] or results
    big = max(with_offsets, key=lambda r: r["plan"]["star_rows"])
    p = big["plan"]
    out = {"sky_row_replication": p["radio_sky_rows"] / (p["n_radio"] * p["n_skies"])}
    limit = engine.MAX_SKY_REPLICA_ROWS
    try:
        engine.MAX_SKY_REPLICA_ROWS = 0
        boxed = predict(Path(big.get("folder") or data_root / big["size"]), big["offsets"])
    finally:
        engine.MAX_SKY_REPLICA_ROWS = limit
    out["box_replication"] = boxed["radio_sky_rows"] / (p["n_radio"] * p["n_skies"])
    out["replication_star_density_deg2"] = p["star_rows"] / 100.0  # the benchmark patch: 100 deg^2
    return out


def line(r: dict) -> str:
    c = r["check"]

    def x(v):
        return "  -  " if v is None else f"{v:5.2f}"

    flag = {True: "   ", False: " ! "}
    drift = (r.get("probe_after") or {}).get("wall_s", float("nan")) / (r.get("probe") or {}).get("wall_s", 1.0)
    return (f"{r['size']:<6} {r['offsets']:>3} {c['partitions'][0]:>6} {c['star_rows'][0]:>11,} "
            f"{c['star_bytes_near_footprint'][0] / 2**20:>9.1f} {'equal' if c['counts_equal'] else 'DIFFER':>7} "
            f"{c['chance_pairs'][0]:>9,.0f} {x(c['chance_pairs'][2])} {c['pairs_within_bound'][1]:>9,} "
            f"{r.get('load', float('nan')):>5.1f} {r['plan'].get('speed_factor', 1.0):>5.2f} "
            f"{drift:>5.2f} "
            f"{c['wall_s'][0] or float('nan'):>7.1f} {c['wall_s'][1]:>7.1f} {x(c['wall_s'][2])}"
            f"{flag[c['wall_within_tolerance']]}{x(c['raw_wall_s'][2])}{flag[c['raw_wall_within_tolerance']]}"
            f"{c['cpu_s'][0] or float('nan'):>7.1f} {c['cpu_s'][1] or float('nan'):>7.1f} "
            f"{x(c['cpu_s'][2])}{flag[c['cpu_within_tolerance']]}{x(c['task_cpu_s'][2])}")


HEADER = (f"{'size':<6} {'off':>3} {'parts':>6} {'star rows':>11} {'MiB':>9} {'counts':>7} {'chance':>9} "
          f"{'ratio':>5} {'pairs':>9} {'load':>5} {'speed':>5} {'drift':>5} {'wall p':>7} {'wall m':>7} "
          f"{'ratio':>5}   {'raw':>5}   {'cpu p':>7} {'cpu m':>7} {'ratio':>5}   {'task':>5}")
LEGEND = ("load: 1-min load average at the run's start; speed: the factor on the plan's wall time from the "
          "probe before the run (speed_probe.slowdown); drift: probe after / before the run (wall s); wall/cpu p "
          "and m: predicted and measured seconds (cpu: the process tree's CPU s against the plan's core-seconds "
          "scaled by the probe's CPU s); ratio = predicted / measured, ! outside the tolerance; raw: the wall "
          "ratio without a probe (the costs at their fit's typical load); task: task seconds predicted / measured")


def save(results: list[dict], args: argparse.Namespace, where: Path) -> Path:
    """The results as JSON with the commit they measured (and whether the work tree had changes)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    where.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = where / f"plan-check-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "plan-check", "commit": git("rev-parse", "HEAD"),
                                "dirty": bool(git("status", "--porcelain")), "utc": stamp, "cores": os.cpu_count(),
                                "tolerance": TOLERANCE, "args": vars(args), "results": results},
                               indent=1, default=str))
    return path


def with_costs(result: dict, costs: dict) -> dict:
    """`result` with its plan's times recomputed from `costs` and the run's probe (the plan's counts unchanged)
    and compared again."""
    plan = scaled(result["plan"], costs, result.get("probe"))
    return {**result, "plan": plan, "check": compare(plan, result["measured"])}


def held_out(results: list[dict], cores: int) -> dict[str, float]:
    """Wall-time ratio (predicted / measured) of each run with the costs fitted to the OTHER sizes' runs only:
    how well the model predicts a size it never saw."""
    out = {}
    for size in sorted({r["size"] for r in results}):
        rest = [r for r in results if r["size"] != size]
        if len({r["size"] for r in rest}) < 2:
            continue
        costs = {**fit(rest, cores), "measured": "held out"}
        for r in results:
            if r["size"] == size:
                out[f"{size} offsets {r['offsets']} run {r.get('round', 0) + 1}"] = \
                    with_costs(r, costs)["check"]["wall_s"][2]
    return out


def measure_all(args: argparse.Namespace) -> list[dict]:
    """Every size x offsets, `--repeat` runs each, each its own result: the plan (computed once per size and
    offsets), the probe just before the run and the plan scaled by it, the run, the probe after it."""
    from radiolake.crossmatch.estimate import Costs

    saved = Costs.load()
    costs = dataclasses.asdict(saved) if saved else None
    workers = int(args.master.removeprefix("local[").removesuffix("]")) if args.master.startswith("local[") else 2
    results = []
    for size in args.sizes:
        folder = args.data_root / size
        ensure_data(folder, *SIZES[size])
        for k in args.offsets:
            base = predict(folder, k)
            for n in range(max(args.repeat, 1)):
                before, start_load = probe(workers), os.getloadavg()[0]
                plan = scaled(base, costs, before)
                got = measure(folder, k, args.master)
                results.append({"size": size, "offsets": k, "round": n, "folder": str(folder), "load": start_load,
                                "probe": before, "probe_after": probe(workers), "plan": plan, "measured": got,
                                "check": compare(plan, got)})
                print(f"{size} offsets {k} run {n + 1}: {json.dumps(results[-1]['check'], default=str)} "
                      f"probe {before['wall_s']:.3f} s -> {results[-1]['probe_after']['wall_s']:.3f} s "
                      f"({load()})", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", choices=["tiny", "small", "large"], default=["tiny", "small", "large"])
    ap.add_argument("--offsets", nargs="+", type=int, default=[0, 8])
    ap.add_argument("--data-root", type=Path, default=ROOT / ".bench-cache",
                    help="data folder per size (generated once, kept)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size and offsets, each compared with its own probe-scaled plan (a shared "
                         "machine's load moves a single run by 2x)")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--save-costs", action="store_true",
                    help="fit the costs to these runs and write them where `radiolake plan` reads them "
                         "(radiolake/crossmatch/plan_costs.json); the table then shows the fitted model")
    ap.add_argument("--fit-from", type=Path, help="a saved plan-check JSON: refit and compare, no new runs")
    args = ap.parse_args(argv)
    results = json.loads(args.fit_from.read_text())["results"] if args.fit_from else measure_all(args)
    cores = int(args.master.removeprefix("local[").removesuffix("]")) if args.master.startswith("local[") else 2
    if args.save_costs:
        from radiolake.crossmatch.estimate import COSTS_FILE

        costs = {**fit(results, cores), **replication(results, args.data_root)}
        COSTS_FILE.write_text(json.dumps(costs, indent=1) + "\n")
        print(f"costs fitted and saved to {COSTS_FILE}: {json.dumps(costs)}")
        results = [with_costs(r, costs) for r in results]
        ratios = held_out(results, cores)
        print("wall predicted / measured with costs fitted to the other sizes only: "
              + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    report(results)
    print(f"results: {save(results, args, args.results)}")
    bad_counts = [r for r in results if not r["check"]["counts_equal"]]
    bad_pairs = [r for r in results if not r["measured"].get("pairs_ok")]
    return 1 if bad_counts or bad_pairs else 0


def report(results: list[dict]) -> None:
    print(f"\nplan vs run (tolerance +/-{TOLERANCE:.0%}; costs: {results[0]['plan']['costs_measured']})\n"
          f"{LEGEND}\n{HEADER}")
    for r in results:
        print(line(r))
    n = len(results)
    bad_counts = [r for r in results if not r["check"]["counts_equal"]]
    bad_pairs = [r for r in results if not r["measured"].get("pairs_ok")]

    def hits(key: str) -> int:
        return sum(bool(r["check"].get(key)) for r in results)

    print(f"counts equal in {n - len(bad_counts)}/{n} runs; pairs identical to astropy's in {n - len(bad_pairs)}/{n}; "
          f"within +/-{TOLERANCE:.0%}: wall {hits('wall_within_tolerance')}/{n} (scaled by the probe), "
          f"{hits('raw_wall_within_tolerance')}/{n} without it; CPU s {hits('cpu_within_tolerance')}/{n}")


if __name__ == "__main__":
    sys.exit(main())
