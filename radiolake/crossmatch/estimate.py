"""What a cross-match would read and cost, computed before anything runs (`radiolake plan`).

The driver's own plan step (driver.plan_run) is run as is: it reads the radio rows the match needs and only
the footers of the star files near their footprint, so the partitions (star chunks = tasks), the rows and
bytes they would read and the radio rows each needs are the run's own, not a model of them. Then:

- expected pairs: for each radio row, the density of the star row group whose healpix range holds it (rows /
  the sky of its nested-index range; lake and sorted files only: an unsorted file's row groups each span the
  whole sky, so the density is an average) times the search area pi r^2: chance pairs per sky; true
  counterparts add at most one per radio row;
- time: costs fitted to measured runs by the benchmark (COSTS_FILE, written by `python -m benchmarks plan-check
  --save-costs`, a least-squares fit over three sizes and two offset-sky counts): task CPU-seconds = per task
  x partitions + per star row x star rows + per radio sky row x radio rows the chunks need (sky rows, summed
  over the chunks), spread over the cores; plus the driver's part, which runs once: fixed (process and Spark
  start) + per radio row (read, assemble, write) + per radio row and offset sky (each sky's replicas built,
  its candidates assembled: the part a fit without it missed by ~25% at 10 M x 1 M with 8 offset skies).

The costs are expressed at the machine's speed with a core to each process (the speed probe's CPU seconds
when they were fitted, `probe_s`). A plan made here scales them by the probe run now (speed_probe.py, a
fraction of a second of the tasks' own kernel): the CPU seconds by its CPU seconds over `probe_s` (this
machine's speed), the wall time by that and the geometric mean of the probe's contention now (wall over CPU
seconds: other work moves it) and the contention typical of the fit's runs (speed_probe.CONTENTION_WEIGHT
says why half-way). On the 2-core machine
the costs were fitted on, shared with other work, one command's wall time moved 2-4x within minutes while
the per-row costs did not (docs/plan.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from radiolake.crossmatch.driver import StepTimer, plan_run
from radiolake.crossmatch.match_config import MatchConfig
from radiolake.crossmatch.partitioning import home_pixels
from radiolake.crossmatch.speed_probe import Probe
from radiolake.schema import HEALPIX_ORDER

#: Per-row costs measured by the benchmark on this machine (see benchmarks/crossmatch/run.py --save-costs).
COSTS_FILE = Path(__file__).with_name("plan_costs.json")
FINE_PIXEL_DEG2 = 4.0 * math.pi / (12 * 4**HEALPIX_ORDER) * (180.0 / math.pi) ** 2


@dataclass(frozen=True)
class Costs:
    """Fitted costs: task CPU-seconds per task, per star row and per radio sky row (a radio row in one sky,
    counted once per chunk that needs it); the driver's seconds (fixed, per radio row, per radio row and
    offset sky); the cores of the runs they were fitted to, and where."""

    star_row_s: float
    radio_sky_row_s: float
    fixed_s: float
    cores: int
    measured: str
    task_s: float = 0.0  # per task (star chunk): its file opened, footers read, its result handed back
    driver_radio_row_s: float = 0.0  # driver, per radio row: read, replicas, assemble, write
    driver_sky_row_s: float = 0.0  # driver, per radio row and offset sky: that sky's replicas and candidates
    # radio sky rows per radio row and sky in the benchmark's plan (sky_plan.py: catalogues without data):
    sky_row_replication: float = 1.0  # each sky's rows replicated where their own cones reach
    box_replication: float = 1.0  # the ra/dec boxes (above engine.MAX_SKY_REPLICA_ROWS sky rows)
    replication_star_density_deg2: float = 0.0  # the star density those were planned at
    probe_s: float = 0.0  # the speed probe's CPU seconds per process at the fit: the speed the costs are at
    probe_contention: float = 1.0  # the fit's probes' median wall / CPU seconds: the load typical of its runs
    probe_processes: int = 2  # processes the probe runs at once (the fit's workers)

    @classmethod
    def load(cls, path: Path | None = None) -> Costs | None:
        path = path or COSTS_FILE
        return cls(**json.loads(path.read_text())) if path.exists() else None


@dataclass(frozen=True)
class Estimate:
    """A run's plan: what it reads and, with costs, how long it takes."""

    n_radio: int
    n_radio_quarantined: int
    star_files: int
    star_row_groups: int
    partitions: int  # star chunks: one task each
    star_rows: int
    star_bytes_match_columns: int  # compressed bytes every chunk reads
    star_bytes_other_columns: int  # read only for matched stars: an upper bound
    radio_sky_rows: int  # radio rows the chunks need, summed over chunks, times the skies
    n_skies: int
    expected_chance_pairs: float  # real sky, from the star density at each radio row and the search area
    search_arcsec: float
    task_cpu_s: float | None = None
    fixed_s: float | None = None  # the driver's part: fixed + per radio row + per radio row and offset sky
    speed_factor: float = 1.0  # times above = the costs' x this (the speed probe now over the costs' probe_s)

    def wall_s(self, cores: int) -> float | None:
        """Seconds on `cores` cores (tasks spread evenly, at least one chunk's share each)."""
        if self.task_cpu_s is None or self.fixed_s is None:
            return None
        per_task = self.task_cpu_s / max(self.partitions, 1)
        return self.fixed_s + max(self.task_cpu_s / max(cores, 1), per_task)

    def with_costs(self, costs: Costs | None, speed_factor: float = 1.0) -> Estimate:
        """This plan with its task CPU-seconds and the driver's seconds from `costs` (None: no times), times
        `speed_factor` (speed_factor(): the machine now against the costs' fit)."""
        if costs is None:
            return self
        cpu = costs.task_s * self.partitions + costs.star_row_s * self.star_rows \
            + costs.radio_sky_row_s * self.radio_sky_rows
        driver = costs.fixed_s + costs.driver_radio_row_s * self.n_radio \
            + costs.driver_sky_row_s * self.n_radio * (self.n_skies - 1)
        return Estimate(**{**self.as_dict(), "task_cpu_s": cpu * speed_factor, "fixed_s": driver * speed_factor,
                           "speed_factor": speed_factor})

    @property
    def core_s(self) -> float | None:
        """Core-seconds: the tasks' and the driver's (one core)."""
        return None if self.task_cpu_s is None or self.fixed_s is None else self.task_cpu_s + self.fixed_s

    def as_dict(self) -> dict:
        return asdict(self)


def speed_factor(costs: Costs | None, probe_now: Probe | None, cpu: bool = False) -> float:
    """How much longer than the costs say the same work takes now (speed_probe.slowdown: wall seconds, or with
    `cpu` CPU seconds); without a probe, the wall time at the contention typical of the fit (1.0 for costs
    fitted without probes)."""
    if costs is None or costs.probe_s <= 0:
        return 1.0
    if probe_now is None:
        return 1.0 if cpu else costs.probe_contention
    return probe_now.factor(costs.probe_s, cpu, costs.probe_contention)


def estimate(radio: str, stars: str, config: MatchConfig, costs: Costs | None = None,
             factor: float = 1.0) -> Estimate:
    """The plan of cross-matching `radio` with `stars` (locations the driver reads: crossmatch.io), its times
    from `costs` x `factor` (speed_factor)."""
    planned = plan_run(radio, stars, config, StepTimer())
    chunks = planned.chunks
    n_skies = 1 + config.n_offsets
    radio_sky_rows = int(sum(len(rows) for _, rows in planned.payloads)) * (1 if planned.skies.sky_rows else n_skies)
    search = planned.plan.criteria.search_arcsec
    density = _densities(planned.stars.groups, planned.radio.columns["ra"], planned.radio.columns["dec"])
    chance = float(density.sum() * math.pi * (search / 3600.0) ** 2)
    star_rows = int(sum(c.n_rows for c in chunks))
    est = Estimate(
        n_radio=planned.skies.n_radio,
        n_radio_quarantined=0 if planned.radio.bad is None else planned.radio.bad.num_rows,
        star_files=len({c.path for c in chunks}),
        star_row_groups=int(sum(len(c.row_groups) for c in chunks)),
        partitions=len(chunks),
        star_rows=star_rows,
        star_bytes_match_columns=int(sum(c.n_bytes for c in chunks)),
        star_bytes_other_columns=int(sum(c.rest_bytes for c in chunks)),
        radio_sky_rows=radio_sky_rows,
        n_skies=n_skies,
        expected_chance_pairs=chance,
        search_arcsec=search,
    )
    return est.with_costs(costs, factor)


def _densities(groups: list, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Stars per deg^2 at each radio position: each row group spreads its rows evenly over its sky (_area_deg2),
    and the row groups whose healpix ranges hold the position add up (sorted files: one; files in no
    particular order: every row group, each over the whole patch, an average density)."""
    known = sorted((g for g in groups if g.hp_min is not None and g.n_rows), key=lambda g: g.hp_min)
    if not known or ra.size == 0:
        return np.zeros(ra.size)
    lo = np.array([g.hp_min for g in known], np.int64)
    hi = np.array([g.hp_max for g in known], np.int64)
    rho = np.array([g.n_rows / _area_deg2(g) for g in known])
    pix = home_pixels(ra, dec, HEALPIX_ORDER)
    if (lo[1:] > hi[:-1]).all():  # disjoint ranges (lake catalogues, sorted files): one lookup
        k = np.searchsorted(lo, pix, side="right") - 1
        inside = (k >= 0) & (pix <= hi[np.maximum(k, 0)])
        return np.where(inside, rho[np.maximum(k, 0)], 0.0)
    out = np.zeros(ra.size)
    for k in range(len(known)):  # overlapping ranges: few row groups (a user's file)
        out += np.where((pix >= lo[k]) & (pix <= hi[k]), rho[k], 0.0)
    return out


def _area_deg2(g) -> float:
    """A row group's sky: its nested healpix range's, or its ra/dec box's (footer statistics) when smaller
    (a row group of a file in no particular order spans a nested range far wider than the patch it covers)."""
    area = (g.hp_max - g.hp_min + 1) * FINE_PIXEL_DEG2
    if g.box is not None and all(math.isfinite(v) for v in g.box):
        ra_lo, ra_hi, dec_lo, dec_hi = g.box
        box = (ra_hi - ra_lo) * (math.sin(math.radians(dec_hi)) - math.sin(math.radians(dec_lo))) * 180 / math.pi
        if box > 0:
            area = min(area, box)
    return max(area, FINE_PIXEL_DEG2)
