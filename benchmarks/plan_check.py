"""Benchmark: `radiolake plan`'s prediction against the run it predicts, at several sizes (issue 25).

For each size (stars x radio of benchmarks/crossmatch: tiny 0.1 M x 10 k, small 1 M x 100 k, large 10 M x 1 M,
the same 100 deg^2 patch) and each offset-sky count (0 and 8), the plan is computed first (untimed, from the
per-row costs in radiolake/crossmatch/plan_costs.json), then the CLI runs as a user runs it (whole process,
Spark local[2]) and is measured from here. Printed and saved as JSON with the commit:

- counts, which must be equal: partitions (star chunks = tasks), star rows, star bytes near the footprint;
- the star bytes the tasks read against the plan's [match columns, match + other columns] bounds;
- chance pairs: the plan's (footer densities x search area) against the 8 offset skies' mean count;
- pairs: the real sky's count against the plan's chance pairs + the true counterparts' bound;
- time: wall and task CPU-seconds, predicted / measured, flagged outside +/- TOLERANCE.

The costs come from earlier runs (`measured` in plan_costs.json): `--save-costs` fits them to this run's runs
by least squares (then the table is in the sample) and prints each size's wall ratio with the costs fitted to
the other sizes only (out of the sample).

    python -m benchmarks plan-check                      # tiny, small, large; offsets 0 and 8
    python -m benchmarks plan-check --sizes tiny --offsets 0    # the CI size (tests/unit/test_bench_plan_check.py)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(ROOT))

from benchmarks.crossmatch.run import RADIUS, SIZES, ensure_data, load, median_run, run_phase  # noqa: E402

TOLERANCE = 0.30  # |predicted / measured - 1| the time predictions must stay within (printed, not asserted)
RESULTS = ROOT / "benchmarks" / "results"


def predict(folder: Path, offsets: int) -> dict:
    """The plan of the CLI run on `folder` with `offsets` offset skies, with the saved costs."""
    from radiolake.crossmatch.estimate import Costs, estimate
    from radiolake.crossmatch.match_config import MatchConfig

    costs = Costs.load()
    est = estimate(str(folder / "radio.parquet"), str(folder / "stars"),
                   MatchConfig(radius_arcsec=RADIUS, n_offsets=offsets), costs)
    cores = costs.cores if costs else 2
    return {**est.as_dict(), "wall_s": est.wall_s(cores), "cores": cores,
            "costs_measured": costs.measured if costs else None}


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
        "task_cpu_s": [plan["task_cpu_s"], run["task_seconds"]["sum"],
                       ratio(plan["task_cpu_s"], run["task_seconds"]["sum"])],
    }
    out["counts_equal"] = all(out[k][-1] for k in ("partitions", "star_rows", "star_bytes_near_footprint",
                                                    "star_bytes_read_within_plan"))
    out["wall_within_tolerance"] = out["wall_s"][2] is not None and abs(out["wall_s"][2] - 1) <= TOLERANCE
    return out


def fit(results: list[dict], cores: int) -> dict:
    """Costs by non-negative least squares over the runs: task CPU-s (run.json's task seconds) on [tasks, star
    rows, radio sky rows]; the driver's seconds (wall - task CPU-s / cores) on [1, radio rows, radio rows x
    offset skies]."""
    import numpy as np
    from scipy.optimize import nnls

    plans = [r["plan"] for r in results]
    task = np.array([r["measured"]["run"]["task_seconds"]["sum"] for r in results])
    wall = np.array([r["measured"]["wall_s"] for r in results])
    a = np.array([[p["partitions"], p["star_rows"], p["radio_sky_rows"]] for p in plans], float)
    b = np.array([[1.0, p["n_radio"], p["n_radio"] * (p["n_skies"] - 1)] for p in plans])
    (task_s, star_row_s, radio_sky_row_s), _ = nnls(a, task)
    (fixed_s, driver_radio_row_s, driver_sky_row_s), _ = nnls(b, np.maximum(wall - task / cores, 0.0))
    sizes = sorted({r["size"] for r in results})
    return {"star_row_s": star_row_s, "radio_sky_row_s": radio_sky_row_s, "fixed_s": fixed_s, "cores": cores,
            "measured": f"{time.strftime('%Y-%m-%d', time.gmtime())}, fitted to {len(results)} CLI runs "
                        f"({', '.join(sizes)}; offsets {sorted({r['offsets'] for r in results})}), hats layout, "
                        f"local[{cores}], {os.cpu_count()}-core machine, {load()}",
            "task_s": task_s, "driver_radio_row_s": driver_radio_row_s, "driver_sky_row_s": driver_sky_row_s}


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


def line(size: str, offsets: int, c: dict) -> str:
    def r(x):
        return "  -  " if x is None else f"{x:5.2f}"

    return (f"{size:<6} {offsets:>3} {c['partitions'][0]:>6} {c['star_rows'][0]:>11,} "
            f"{c['star_bytes_near_footprint'][0] / 2**20:>9.1f} {'equal' if c['counts_equal'] else 'DIFFER':>7} "
            f"{c['chance_pairs'][0]:>9,.0f} {r(c['chance_pairs'][2])} {c['pairs_within_bound'][1]:>9,} "
            f"{c['wall_s'][0] or float('nan'):>7.1f} {c['wall_s'][1]:>7.1f} {r(c['wall_s'][2])}"
            f"{'' if c['wall_within_tolerance'] else ' OUT'} {r(c['task_cpu_s'][2])}")


HEADER = (f"{'size':<6} {'off':>3} {'parts':>6} {'star rows':>11} {'MiB':>9} {'counts':>7} {'chance':>9} "
          f"{'ratio':>5} {'pairs':>9} {'wall p':>7} {'wall m':>7} {'ratio':>5} {'cpu r':>5}")


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
    """`result` with its plan's times recomputed from `costs` (the plan's counts unchanged) and compared again."""
    from radiolake.crossmatch.estimate import Costs, Estimate

    fields = {k: v for k, v in result["plan"].items() if k in Estimate.__dataclass_fields__}
    est = Estimate(**fields).with_costs(Costs(**costs))
    plan = {**result["plan"], **est.as_dict(), "wall_s": est.wall_s(costs["cores"]),
            "costs_measured": costs["measured"]}
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
                out[f"{size} offsets {r['offsets']}"] = with_costs(r, costs)["check"]["wall_s"][2]
    return out


def measure_all(args: argparse.Namespace) -> list[dict]:
    results = []
    for size in args.sizes:
        folder = args.data_root / size
        ensure_data(folder, *SIZES[size])
        for k in args.offsets:
            plan = predict(folder, k)
            runs = [measure(folder, k, args.master) for _ in range(max(args.repeat, 1))]
            got = {**median_run(runs), "walls_s": [r["wall_s"] for r in runs]}
            results.append({"size": size, "offsets": k, "folder": str(folder), "plan": plan, "measured": got,
                            "check": compare(plan, got)})
            print(f"{size} offsets {k}: {json.dumps(results[-1]['check'], default=str)} ({load()})", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", choices=["tiny", "small", "large"], default=["tiny", "small", "large"])
    ap.add_argument("--offsets", nargs="+", type=int, default=[0, 8])
    ap.add_argument("--data-root", type=Path, default=ROOT / ".bench-cache",
                    help="data folder per size (generated once, kept)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per size and offsets; the median-wall run is compared (a shared machine's load "
                         "moves a single run by 2x)")
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
    print(f"\nplan vs run (ratio = predicted / measured; tolerance +/-{TOLERANCE:.0%} on wall time; "
          f"costs: {results[0]['plan']['costs_measured']})\n{HEADER}")
    for r in results:
        print(line(r["size"], r["offsets"], r["check"]))
    bad_counts = [r for r in results if not r["check"]["counts_equal"]]
    bad_pairs = [r for r in results if not r["measured"].get("pairs_ok")]
    print(f"counts equal in {len(results) - len(bad_counts)}/{len(results)} runs; pairs identical to astropy's in "
          f"{len(results) - len(bad_pairs)}/{len(results)}; wall within +/-{TOLERANCE:.0%} in "
          f"{sum(r['check']['wall_within_tolerance'] for r in results)}/{len(results)}")


if __name__ == "__main__":
    sys.exit(main())
