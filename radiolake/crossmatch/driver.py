"""The one cross-match driver: plan -> star chunks -> map -> reduce -> write, over a pluggable executor.

1. plan: the driver reads the radio columns the match needs (invalid rows quarantined) and only the Parquet
   footers of the star files near the radio footprint; their statistics give the plan (plan.plan_match)
   without a pass over the star rows (inputs.py);
2. star chunks: the real radio rows are replicated to the join pixels their cone reaches (engine.RadioSkies)
   and the star row groups near them are cut into chunks; each chunk is named the radio rows it needs;
3. map: the executor (executors.py: Spark, or Python's map in this process) runs star_task.run_star_group
   on groups of chunks; the radio rows travel once. A task reads its stars, quarantines invalid rows, counts
   stars per density pixel, matches the slow stars with `MatchConfig.kernel` (kernels.py) and returns a
   star_task.ChunkResult: pairs with integer keys, the few fast movers, full rows of matched stars only;
4. reduce: the fast movers get their own search and the result tables are assembled (reduce.py);
5. write: the tables, matched rows and quarantine (output.py), run.json last.
No shuffle, no Arrow<->JVM<->Python conversion of star rows: an executor is only a scheduler. What is no
longer needed is dropped as it goes, so 100 M stars x 10 M radio sources fit in 6 GB for all processes.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from radiolake.crossmatch.engine import RadioSkies
from radiolake.crossmatch.executors import Executor, PoolExecutor, task_groups
from radiolake.crossmatch.inputs import RadioInput, StarInput, coverage, pixel_ranges
from radiolake.crossmatch.io import remove_file, resolve_location, write_text
from radiolake.crossmatch.match_config import MatchConfig, RunLabels
from radiolake.crossmatch.output import write_tables
from radiolake.crossmatch.partitioning import MIN_JOIN_ORDER, pixel_size_arcsec
from radiolake.crossmatch.plan import CatalogueStats, MatchPlan, plan_match
from radiolake.crossmatch.reduce import Reduced, match_fast_movers, reduce_results
from radiolake.crossmatch.star_chunks import StarChunk, plan_chunks
from radiolake.crossmatch.star_task import STAR_READ, ChunkResult, TaskContext, run_star_group

if TYPE_CHECKING:
    from radiolake.crossmatch.increment import Carry

log = logging.getLogger(__name__)


class StepTimer:
    """Wall time per step of the plan, logged and kept in run.json: the job's own coarse profile; `slots`: how
    many tasks ran at once; `before_run`: from the process's start to the run's (interpreter, imports, the
    CLI, canonical input copies)."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()
        self.slots = 1
        self.before_run = _since_process_start()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._t, 3)
        log.info("crossmatch step %s: %.1f s", name, now - self._t)
        self._t = now

    def outside_tasks(self, task_seconds: float) -> dict[str, float]:
        """Where the whole process spent its time outside the tasks' own work: before the run, the driver's
        steps, waiting for the executor (JVM, workers) and the scheduling, result transfer and idle slots of
        the map step (its wall time less the tasks' seconds spread over the slots); `total` sums them."""
        t = self.times
        parts = {"before_run": self.before_run, "plan": t.get("plan", 0.0) + t.get("radio_skies", 0.0),
                 "waiting_for_executor": t.get("await_spark", 0.0),
                 "scheduling": max(t.get("match", 0.0) - task_seconds / max(self.slots, 1), 0.0),
                 "assemble": t.get("assemble", 0.0) + t.get("carry", 0.0), "write": t.get("write", 0.0)}
        return {"total": round(sum(parts.values()), 3), **{k: round(v, 3) for k, v in parts.items()}}


def _since_process_start() -> float:
    """Seconds since this command's process started (an engine's run: since the attached command started)."""
    from radiolake.crossmatch.engine_client import seconds_since_start

    return seconds_since_start()


@dataclass
class Planned:
    """Steps 1-2: the inputs, the plan, the radio skies and the star chunks with the radio rows each needs."""

    radio: RadioInput
    stars: StarInput
    stats: CatalogueStats
    plan: MatchPlan
    skies: RadioSkies
    chunks: list[StarChunk]
    payloads: list[tuple[StarChunk, Any]]


@dataclass
class RunResult:
    """A finished run: run.json's content (`summary`), the tables (pairs, best: Arrow; offset_stats: pandas;
    priors; quarantine: {"radio", "stars"} -> the invalid rows with their reason, None: none) and the plan."""

    summary: dict[str, Any]
    tables: dict[str, Any]
    plan: MatchPlan


def plan_run(radio_location: str, stars_location: str, config: MatchConfig, timer: StepTimer,
             map_skies: Callable | None = None) -> Planned:
    """Steps 1 and 2: inputs, plan, radio skies and star chunks (nothing but footers read of the stars).
    `map_skies`: where the offset skies' replicas are computed (RadioSkies.build)."""
    radio = RadioInput.read(radio_location)
    stars = StarInput.near(stars_location, radio)
    stats = stars.stats(radio)
    plan = plan_match(stats, config.radius_arcsec, config.n_sigma, config.join_order, config.max_join_order)
    margin = plan.criteria.search_arcsec + plan.max_displacement_arcsec
    if margin > pixel_size_arcsec(MIN_JOIN_ORDER) / 2:
        raise ValueError(f"proper motions move stars by up to {margin:.0f} arcsec: too far for this engine")
    timer.lap("plan")
    skies = RadioSkies.build(radio.columns, plan.reach_arcsec, plan.join_order, config.n_offsets,
                             config.offset_arcmin, map_skies)
    cov = pixel_ranges(*coverage(skies.keys(), plan.join_order, config.density_order, margin + skies.offset_arcsec))
    chunks = plan_chunks(stars.covering(cov), stars.s3, set(STAR_READ), config.chunk_rows)
    payloads = [(c, skies.rows_for_chunk(c.hp_min, c.hp_max, c.boxes)) for c in chunks]
    timer.lap("radio_skies")
    return Planned(radio, stars, stats, plan, skies, chunks, payloads)


def map_chunks(executor: Executor, planned: Planned, config: MatchConfig, timer: StepTimer) -> list[ChunkResult]:
    """Step 3: the star tasks on the executor; the radio rows are its one shared value."""
    plan, skies = planned.plan, planned.skies
    ctx = TaskContext(plan.criteria, skies.epoch_range, plan.slow_limit_arcsec, config.density_order,
                      skies.n_radio, config.kernel, skies.sky_rows)
    executor.start()
    timer.lap("await_spark")
    timer.slots = executor.parallelism()
    tasks = task_groups(planned.payloads, [c.n_rows for c in planned.chunks], timer.slots)
    results = [r for rs in executor.map(partial(run_star_group, ctx), skies.radio, tasks) for r in rs]
    planned.payloads = []
    timer.lap("match")
    return results


# size: the executor, both inputs, where it writes, the settings, the labels and the earlier run it carries on
def run_crossmatch(executor: Executor, radio_location: str, stars_location: str, out: str | None,
                   config: MatchConfig, labels: RunLabels | None = None, carry: Carry | None = None) -> RunResult:
    """Cross-match two catalogues (locations: crossmatch.io) on `executor`; with `out`, write the run folder
    there (run.json last, after every table). Returns the run's summary (run.json's content) and tables.
    `carry`: the earlier run whose detections outside the regions this run matches it carries on, re-scored
    (crossmatch.carry; from crossmatch.increment)."""
    labels = labels or RunLabels()
    run_id = labels.run_id or f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    names = (labels.radio_name or _name(radio_location), labels.star_name or _name(stars_location))
    if out is not None:
        out = out.rstrip("/")
        remove_file(f"{out}/run.json")  # a rerun into the same folder is not a whole run until it finishes
    timer = StepTimer()
    # a local pool's workers are idle while the driver plans: they compute the offset skies' replicas
    planned = plan_run(radio_location, stars_location, config, timer,
                       executor.map if isinstance(executor, PoolExecutor) else None)
    results = map_chunks(executor, planned, config, timer)
    fast = match_fast_movers(results, planned.skies, planned.plan, config)
    planned.skies = None  # the replicas, no longer needed
    reduced = reduce_results(results, fast, planned.plan, planned.radio, config, run_id)
    if not ((labels.catalog_versions or {}).get("radio") or {}).get("version"):
        reduced.tables.pop("association")  # only a lake catalogue's runs are carried on by later ones
    timer.lap("assemble")
    carried = None
    if carry is not None:
        from radiolake.crossmatch.carry import carry_forward  # only an increment's (it reads the lake)

        carried = carry_forward(reduced.tables, carry, config.n_offsets, run_id)
        timer.lap("carry")
    if out is not None:
        write_tables(out, reduced.tables, planned.radio, reduced.radio_rows, results, planned.stars.schema,
                     names, carried.rows if carried is not None else None)
    timer.lap("write")
    timings = {**timer.times, "outside_tasks": timer.outside_tasks(sum(r.seconds for r in results))}
    summary = run_summary(planned, results, reduced, config, labels, run_id=run_id, names=names,
                          timings=timings)
    if carried is not None:
        summary["catalog_versions"]["radio"]["increment"].update(carried.record)
        summary["footprint"] = carried.footprint  # where the marts take this run's detections
    if out is not None:
        if carried is not None:
            carry.check_still_newest(run_id)
        write_text(json.dumps(summary, indent=2), f"{out}/run.json")  # last: marks the run as whole
    return RunResult(summary, reduced.tables, planned.plan)


def _name(location: str) -> str:
    return resolve_location(location).rstrip("/").rsplit("/", 1)[-1]


def run_summary(planned: Planned, results: list[ChunkResult], reduced: Reduced, config: MatchConfig,
                labels: RunLabels, **run: Any) -> dict[str, Any]:
    """run.json's content. `run`: run_id, names (radio, star), timings."""
    tables, plan = reduced.tables, planned.plan
    n_bad = {k: t.num_rows if t is not None else 0 for k, t in tables["quarantine"].items()}
    frame = tables["offset_stats"]
    n_valid = sum(r.n_valid for r in results)
    stats = replace(planned.stats, n_stars=n_valid)
    widest = frame["radius_arcsec"] == frame["radius_arcsec"].max() if len(frame) else None
    return {
        "run_id": run["run_id"],
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "radio_catalog": run["names"][0],
        "star_catalog": run["names"][1],
        "radius_arcsec": config.radius_arcsec,
        "n_sigma": config.n_sigma,
        "n_offsets": config.n_offsets,
        "offset_arcmin": config.offset_arcmin,
        "n_radio": stats.n_radio,
        "n_stars": n_valid,
        "n_pairs": tables["pairs"].num_rows,
        "n_best": tables["best"].num_rows,
        "expected_false_matches": float(frame.loc[widest, "expected_false_matches"].sum()) if len(frame) else 0.0,
        "association_prior": tables["priors"].as_dict(),
        "k_nearest": config.k_nearest,
        "join_order": plan.join_order,
        "density_order": config.density_order,
        "region_order": config.region_order,
        "search_arcsec": plan.criteria.search_arcsec,
        "reach_arcsec": plan.reach_arcsec,
        "slow_limit_arcsec": plan.slow_limit_arcsec,
        "n_fast_stars": int(sum(r.fast.size for r in results)),
        "n_radio_quarantined": n_bad["radio"],
        "n_stars_quarantined": n_bad["stars"],
        "n_candidates_incl_offsets": reduced.n_candidates,
        "n_star_chunks": len(planned.chunks),
        "star_bytes_read": int(sum(r.bytes for r in results)),
        "star_bytes_near_footprint": int(sum(sum(g.col_bytes.values()) for g in planned.stars.groups)),
        "stats": asdict(stats),
        "timings_s": run["timings"],
        "catalog_versions": labels.catalog_versions,
        "task_seconds": {
            "sum": round(sum(r.seconds for r in results), 3),
            "max": round(max((r.seconds for r in results), default=0.0), 3),
        },
    }
