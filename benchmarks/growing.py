"""A living catalogue's cross-matches (issue 22): regional runs that match only what is new and carry the rest on,
against one whole run over the union, measured in the same run.

A synthetic sky (radiolake.ingest.synthetic: Gaia-like stars, radio background plus radio stars) over three
order-0 HEALPix pixels, written to two Parquet files and ingested region by region into a lake on the local
filesystem (a temp folder), stars and radio both growing. After each region's ingest a cross-match run (only_new
on, the CLI's local executor): it matches the region's new radio rows and carries the earlier regions' detections
on, re-scored with the association prior over the catalogue so far. Then a whole run over the union
(only_new off) and a rerun of the middle region (only_new off, region). Prints each run's wall time, the radio
rows it matched and carried, and the ratios third regional run / whole run and region rerun / whole run; the
carry step is the driver's own (run.json timings_s "carry"), the increment planning
(crossmatch.increment.radio_to_read, before the driver's timer starts) is timed by wrapping it here.

The answer is checked before any figure is printed: the third regional run's and the rerun's pairs, best,
offset_stats and radio_sources equal the whole run's, every column exactly (as multisets of rows, run_id left
out); a difference fails the benchmark. Needs no stack. Results JSON under benchmarks/results/.

    python -m benchmarks.growing [--stars 1000000] [--radio 100000] [--offsets 4] [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
#: Three order-0 pixels of the sky (4 and 5 touch, 6 touches 5), one per regional ingest.
REGIONS = ("healpix:0:4", "healpix:0:5", "healpix:0:6")
SKY = "healpix:0:4,5,6"
TABLES = ("pairs", "best", "offset_stats", "radio_sources")
RADIO_STAR_FRACTION = 0.01  # of the radio rows: radio stars at a host star (the rest background)


def write_sky(folder: Path, n_stars: int, n_radio: int, seed: int) -> tuple[Path, Path]:
    """The synthetic sky over the three regions as stars.parquet and radio.parquet (the canonical columns)."""
    from radiolake.ingest.synthetic import generate_synthetic_sky

    n_radio_stars = max(1, round(n_radio * RADIO_STAR_FRACTION))
    sky = generate_synthetic_sky(n_stars, n_radio - n_radio_stars, n_radio_stars, seed, SKY)
    paths = folder / "stars.parquet", folder / "radio.parquet"
    for path, batches in zip(paths, (sky.stars(), sky.radio()), strict=True):
        writer = None
        for batch in batches:
            writer = writer or pq.ParquetWriter(path, batch.schema)
            writer.write_batch(batch)
        if writer is not None:
            writer.close()
    return paths


@contextmanager
def step_clock(seconds: dict[str, float]) -> Iterator[None]:
    """Adds the time of the increment's planning (radio_to_read) to `seconds`: it runs before the driver's timer
    starts."""
    from radiolake.crossmatch import increment

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
        return wrapper

    original = increment.radio_to_read
    increment.radio_to_read = timed("plan_increment", original)
    try:
        yield
    finally:
        increment.radio_to_read = original


class Lake:
    """The temp lake: ingests a region of either file, runs a cross-match, reads a run's tables."""

    def __init__(self, root: Path, offsets: int, workers: int, max_rows: int) -> None:
        self.root, self.offsets, self.master, self.max_rows = root, offsets, f"local[{workers}]", max_rows

    def ingest(self, survey: str, path: Path, region: str) -> str:
        from radiolake.ingest.run import ingest_survey

        name = survey.removeprefix("synthetic_")
        return ingest_survey(survey, path=path, region=region, name=name, fs=pafs.LocalFileSystem(),
                             catalogs_root=str(self.root / "catalogs"), raw_root=str(self.root / "raw"),
                             max_rows_per_partition=self.max_rows).version

    def run(self, run_id: str, **options: Any) -> dict[str, Any]:
        """One run (the CLI's local executor); its run.json with the wall time and the wrapped steps' times."""
        from radiolake.crossmatch.runner import crossmatch_run_params
        from radiolake.run_params import CrossmatchParams

        params = CrossmatchParams(str(self.root / "catalogs" / "radio"), str(self.root / "catalogs" / "stars"),
                                  radius_arcsec=10.0, n_sigma=None, offsets=self.offsets, offset_arcmin=3.0,
                                  out=str(self.root / "xmatch" / run_id), run_id=run_id, executor="local",
                                  **options)
        steps: dict[str, float] = {}
        start = time.perf_counter()
        with step_clock(steps):
            crossmatch_run_params(params, master=self.master)
        wall = time.perf_counter() - start
        summary = json.loads((self.root / "xmatch" / run_id / "run.json").read_text())
        return {**summary, "wall_s": wall, "steps_s": steps}

    def rows(self, run_id: str, table: str) -> Counter[str]:
        """The table's rows but run_id, as a multiset of reprs: floats' reprs round-trip, so equal reprs are
        equal bits (NaN included, which tuple equality would not count as equal)."""
        t = pq.read_table(self.root / "xmatch" / run_id / table)
        t = t.select([c for c in t.column_names if c != "run_id"])
        return Counter(repr(tuple(row.values())) for row in t.to_pylist())


def check_equal(lake: Lake, run_id: str, reference: str) -> list[str]:
    """Every table of `run_id` against `reference`'s; the differences found (empty: equal)."""
    problems = []
    for table in TABLES:
        got, want = lake.rows(run_id, table), lake.rows(reference, table)
        if got != want:
            problems.append(f"{run_id} vs {reference}: {table}: {sum((got - want).values())} rows only in "
                            f"{run_id}, {sum((want - got).values())} only in {reference}"
                            + differing_columns(lake, run_id, reference, table))
        elif not got and table in ("pairs", "best", "radio_sources"):
            problems.append(f"{run_id} vs {reference}: {table} is empty in both (nothing checked)")
    return problems


KEYS = {"pairs": ["radio_id", "star_id"], "best": ["radio_id", "star_id"], "radio_sources": ["source_id"],
        "offset_stats": ["region_order", "region_pixel", "radius_arcsec"]}


def differing_columns(lake: Lake, run_id: str, reference: str, table: str) -> str:
    """Where two runs' rows differ, for the failure message: rows of one key only in either run, and per column
    the rows whose values differ and by how much at most."""
    got, want = (pq.read_table(lake.root / "xmatch" / r / table).to_pandas() for r in (run_id, reference))
    both = got.merge(want, on=KEYS[table], how="outer", suffixes=("", "_ref"), indicator=True)
    notes = [f"{(both['_merge'] != 'both').sum()} keys in one run only"]
    both = both[both["_merge"] == "both"]
    for column in (c for c in got.columns if c not in KEYS[table] and c != "run_id"):
        a, b = both[column], both[f"{column}_ref"]
        differ = ~((a == b) | (a.isna() & b.isna()))
        if differ.any():
            try:
                most = f", at most {abs(a[differ].astype(float) - b[differ].astype(float)).max():.3g}"
            except (TypeError, ValueError):
                most = ""
            notes.append(f"{column}: {int(differ.sum())} rows{most}")
    return " (" + "; ".join(notes) + ")"


# size: the sky's two sizes, the run settings (offset skies, workers, rows per partition) and the seed
def measure(root: Path, n_stars: int, n_radio: int, offsets: int, workers: int, max_rows: int,
            seed: int = 7) -> dict[str, Any]:
    """The five runs over a lake grown in `root`, their figures and the equality check (`problems`)."""
    stars_file, radio_file = write_sky(root, n_stars, n_radio, seed)
    lake = Lake(root, offsets, workers, max_rows)
    runs: dict[str, dict[str, Any]] = {}
    for k, region in enumerate(REGIONS, start=1):
        lake.ingest("synthetic_stars", stars_file, region)
        lake.ingest("synthetic_radio", radio_file, region)
        runs[f"region{k}"] = lake.run(f"region{k}")
    runs["whole"] = lake.run("whole", only_new=False)
    runs["rerun"] = lake.run("rerun", only_new=False, region=REGIONS[1])
    problems = check_equal(lake, "region3", "whole") + check_equal(lake, "rerun", "whole")
    whole = runs["whole"]["wall_s"]
    ratios = {"region3_vs_whole": runs["region3"]["wall_s"] / whole, "rerun_vs_whole": runs["rerun"]["wall_s"] / whole,
              "carry_share_of_region3": runs["region3"]["timings_s"].get("carry", 0.0) / runs["region3"]["wall_s"]}
    return {"stars": n_stars, "radio": n_radio, "offsets": offsets, "workers": workers, "max_rows": max_rows,
            "regions": REGIONS,
            "runs": {name: figures(run) for name, run in runs.items()}, "ratios": ratios, "problems": problems,
            "equal": not problems}


def figures(run: dict[str, Any]) -> dict[str, Any]:
    """What the table prints of a run: wall, driver timings, wrapped steps, rows matched and carried."""
    inc = run["catalog_versions"]["radio"].get("increment") or {}
    return {"wall_s": run["wall_s"], "timings_s": run["timings_s"], "steps_s": run["steps_s"],
            "n_radio": run["n_radio"], "n_pairs": run["n_pairs"], "carried_from": inc.get("carried_from"),
            "carried_sources": inc.get("carried_sources", 0), "carried_pairs": inc.get("carried_pairs", 0),
            "partitions": inc.get("partitions"), "of_partitions": inc.get("of_partitions")}


def report(result: dict[str, Any]) -> list[str]:
    lines = [f"{result['stars']:,} stars, {result['radio']:,} radio rows over {', '.join(result['regions'])}; "
             f"{result['offsets']} offset skies, <= {result['max_rows']:,} rows a partition, local executor with "
             f"{result['workers']} workers",
             f"{'run':<8} {'wall s':>7} {'matched':>8} {'carried':>8} {'carried pairs':>13} {'pairs':>8} "
             f"{'carry s':>8} {'plan s':>7}  driver steps (s)"]
    for name, run in result["runs"].items():
        steps = " ".join(f"{k}={v:.2f}" for k, v in run["timings_s"].items() if isinstance(v, int | float))
        lines.append(f"{name:<8} {run['wall_s']:>7.2f} {run['n_radio']:>8,} {run['carried_sources']:>8,} "
                     f"{run['carried_pairs']:>13,} {run['n_pairs']:>8,} {run['timings_s'].get('carry', 0.0):>8.2f} "
                     f"{run['steps_s'].get('plan_increment', 0.0):>7.2f}  {steps}")
    r = result["ratios"]
    lines += [f"third regional run / whole run: {r['region3_vs_whole']:.2f}",
              f"region rerun / whole run:       {r['rerun_vs_whole']:.2f}",
              f"carry step / third regional run: {r['carry_share_of_region3']:.2f} (the driver's 'carry' step)",
              "tables equal to the whole run's (region3, rerun): " + ("yes" if result["equal"] else "NO")]
    return lines + result["problems"]


def one_round(args: argparse.Namespace, keep: Path | None) -> dict[str, Any]:
    """One lake grown and its five runs, in a temp folder (or `keep`, left in place)."""
    home = os.environ.get("RADIOLAKE_HOME")
    with tempfile.TemporaryDirectory(prefix="radiolake-growing-") as tmp:
        root = keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        os.environ["RADIOLAKE_HOME"] = f"{root}/state"  # the runs' state (locks, records) beside the lake
        try:
            return measure(root, args.stars, args.radio, args.offsets, args.workers, args.max_rows)
        finally:
            os.environ.pop("RADIOLAKE_HOME") if home is None else os.environ.update(RADIOLAKE_HOME=home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=1_000_000, help="stars over the three regions")
    parser.add_argument("--radio", type=int, default=100_000, help="radio rows over the three regions")
    parser.add_argument("--offsets", type=int, default=4, help="offset skies")
    parser.add_argument("--workers", type=int, default=2, help="local executor's worker processes")
    parser.add_argument("--max-rows", type=int, default=20_000,
                        help="rows per catalogue partition at most (finer partitions: a new region's neighbours "
                             "are matched again only near its edge)")
    parser.add_argument("--keep", metavar="DIR", help="build the lakes in DIR/lake1, lake2, ... and keep them")
    parser.add_argument("--no-save", action="store_true", help="write no results JSON")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, each on a lake of its own (median ratios)")
    args = parser.parse_args(argv)
    rounds = []
    for n in range(args.repeat):
        keep = Path(args.keep) / f"lake{n + 1}" if args.keep else None
        rounds.append(one_round(args, keep))
        print(f"round {n + 1} of {args.repeat}:\n" + "\n".join(report(rounds[-1])), flush=True)
    result = {**rounds[-1], "rounds": [r["ratios"] for r in rounds],
              "ratios": {k: statistics.median(r["ratios"][k] for r in rounds) for k in rounds[-1]["ratios"]},
              "problems": [p for r in rounds for p in r["problems"]], "equal": all(r["equal"] for r in rounds)}
    if args.repeat > 1:
        print(f"medians of {args.repeat} rounds: " + ", ".join(f"{k} {v:.2f}" for k, v in result["ratios"].items()))
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"growing-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        path.write_text(json.dumps(result, indent=1))
        print(f"results: {path.relative_to(REPO)}")
    return 0 if result["equal"] else 1


if __name__ == "__main__":
    sys.exit(main())
