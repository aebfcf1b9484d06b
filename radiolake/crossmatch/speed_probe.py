"""How fast this machine runs the engine's match kernel *now*: a fraction of a second of the tasks' own work.

`radiolake plan` scales the fitted per-row costs (plan_costs.json) by this probe's time over the probe's time
when the costs were fitted, so a plan made on a busy shared machine, or on a faster or slower one, predicts
the run as it will go there and then rather than as it went when the costs were measured. On this project's
2-core machine shared with other work the same command's wall time moved 2-4x within minutes; the costs'
per-row figures did not, the machine's share for the run did.

The work is fixed (not the time): `ROUNDS` x engine.match_star_chunk of `PROBE_STARS` synthetic Gaia-like stars
(J2016, pm ~ N(0, 6 mas/yr)) against `PROBE_RADIO` radio rows at the benchmark's density (100 k stars per
deg^2), with the default kernel and a 2" radius, as a star task matches a chunk. It runs in `processes`
forked processes at once (the run's worker count: with 2 workers on 2 cores, another busy process slows them
more than it slows one probe process), each timed on its own; the probe's time is their mean, per round (so
the rounds can change without changing what a time means).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import numpy as np

PROBE_STARS = 100_000
PROBE_RADIO = 10_000
STARS_PER_DEG2 = 100_000  # the plan-check benchmark's density (benchmarks/crossmatch)
ROUNDS = 20
#: The plan takes the probe's CPU speed whole (a faster or slower machine stays so for the run), and for the
#: wall time its contention (wall / CPU seconds: 1 / the share of a core others leave it) only half-way, as the
#: geometric mean with the contention typical of the costs' fit: a fraction of a second's look at a shared
#: machine's load foretells only part of the load over a run of seconds to minutes. On the 2-core machine shared
#: with other work, over 24 plan-check runs at load 4-8, log(a run's slowdown) regressed on log(the probe's)
#: with slope 0.54 (r = 0.74); the probe taken whole overshot as often as it helped.
CONTENTION_WEIGHT = 0.5


@dataclass(frozen=True)
class Probe:
    """One probe: seconds a round of the fixed work took per process (mean over the processes and rounds),
    CPU seconds it took (the same mean), and how many processes ran it at once."""

    wall_s: float
    cpu_s: float
    processes: int

    @property
    def share(self) -> float:
        """CPU seconds per wall second of a probe process: ~1 on an idle machine, lower when others run."""
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 1.0

    def factor(self, reference_cpu_s: float, cpu: bool = False, fit_contention: float | None = None) -> float:
        """How much longer than at `reference_cpu_s` (the probe's CPU seconds the costs are expressed at) work
        takes now: slowdown()."""
        return slowdown(reference_cpu_s, self.wall_s, self.cpu_s, cpu, fit_contention)

    def as_dict(self) -> dict:
        return {"wall_s": self.wall_s, "cpu_s": self.cpu_s, "processes": self.processes, "share": self.share}


def slowdown(reference_cpu_s: float, wall_s: float, cpu_s: float, cpu: bool = False,
             fit_contention: float | None = None) -> float:
    """The factor on times at a probe of `reference_cpu_s` CPU seconds with a core to each process, from a
    probe of `wall_s` / `cpu_s`: for CPU seconds the speed (cpu_s / reference); for wall seconds the speed x
    the contention wall_s / cpu_s, or with `fit_contention` (a plan) x the CONTENTION_WEIGHT-weighted geometric
    mean of the contention now and at the fit. 1.0 without a usable reference or probe."""
    if reference_cpu_s <= 0 or wall_s <= 0 or cpu_s <= 0:
        return 1.0
    speed = cpu_s / reference_cpu_s
    if cpu:
        return speed
    now = wall_s / cpu_s
    if fit_contention is None:
        return speed * now
    return speed * now**CONTENTION_WEIGHT * max(fit_contention, 1e-9) ** (1 - CONTENTION_WEIGHT)


def _sample(seed: int = 0) -> tuple[dict, dict, tuple[float, float]]:
    """(stars, radio sky arrays, radio epoch range): a square patch at the benchmark's density, 10% of the
    radio rows within 0.5" of a star, as benchmarks/crossmatch generates them."""
    from radiolake.crossmatch.engine import STAR_MATCH_COLUMNS, RadioRows

    rng = np.random.default_rng(seed)
    side = math.sqrt(PROBE_STARS / STARS_PER_DEG2)
    n, m = PROBE_STARS, PROBE_RADIO
    stars = {c: np.full(n, np.nan) for c in STAR_MATCH_COLUMNS}
    stars.update(ra=rng.uniform(150.0, 150.0 + side, n), dec=rng.uniform(0.0, side, n), epoch=np.full(n, 2016.0),
                 pmra=rng.normal(0, 6, n), pmdec=rng.normal(0, 6, n), ra_error=np.full(n, 0.0003),
                 dec_error=np.full(n, 0.0003), parallax=rng.exponential(0.5, n), parallax_error=np.full(n, 0.05))
    ra, dec = rng.uniform(150.0, 150.0 + side, m), rng.uniform(0.0, side, m)
    at = rng.choice(n, m // 10, replace=False)
    ra[: at.size] = stars["ra"][at] + rng.normal(0, 0.5, at.size) / 3600
    dec[: at.size] = stars["dec"][at] + rng.normal(0, 0.5, at.size) / 3600
    epoch = rng.uniform(2019.0, 2024.5, m)
    rows = RadioRows({"ra": ra, "dec": dec, "epoch": epoch, "ra_error": np.full(m, 0.5),
                      "dec_error": np.full(m, 0.5)}, 0, 0.0)
    return stars, rows.arrays(np.arange(m)), (float(epoch.min()), float(epoch.max()))


def _work(sample: tuple[dict, dict, tuple[float, float]], rounds: int) -> tuple[float, float, int]:
    """(wall s, CPU s, pairs of the last round) of `rounds` matches of the sample, as a star task runs them."""
    from radiolake.crossmatch.engine import match_star_chunk
    from radiolake.crossmatch.kernels import ZoneKernel
    from radiolake.crossmatch.pairs import MatchCriteria

    stars, radio, epochs = sample
    criteria = MatchCriteria(2.0, None, 2.0)
    t0, c0 = time.perf_counter(), time.process_time()
    pairs = 0
    for _ in range(rounds):
        found, _fast = match_star_chunk(stars, radio, ZoneKernel(), criteria, epochs, 10.0)
        pairs = int(found["star_idx"].size)
    return time.perf_counter() - t0, time.process_time() - c0, pairs


def _child(sample: tuple, rounds: int, write_fd: int) -> None:
    """In a forked probe process: the work, its times written to the pipe, then exit without clean-up (the
    parent's atexit handlers and open files are not this process's to run or flush)."""
    code = 1
    try:
        wall, cpu, _ = _work(sample, rounds)
        os.write(write_fd, f"{wall} {cpu}".encode())
        code = 0
    finally:
        os._exit(code)


def probe(processes: int = 1, rounds: int = ROUNDS) -> Probe:
    """The probe (see the module's docstring) in `processes` forked processes at once; in this process alone
    where fork is not available (1 process)."""
    sample = _sample()
    _work(sample, 1)  # the first match imports and warms what the timed rounds use, in the parent, before fork
    if processes <= 1 or not hasattr(os, "fork"):
        wall, cpu, _ = _work(sample, rounds)
        return Probe(wall / rounds, cpu / rounds, 1)
    children = []
    for _ in range(processes):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits inside _child
            os.close(read_fd)
            _child(sample, rounds, write_fd)
        os.close(write_fd)
        children.append((pid, read_fd))
    times = []
    for pid, read_fd in children:
        with os.fdopen(read_fd, "rb") as f:
            out = f.read().decode()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not out:
            raise RuntimeError(f"speed probe process {pid} failed (status {status})")
        times.append(tuple(float(x) for x in out.split()))
    return Probe(float(np.mean([w for w, _ in times])) / rounds, float(np.mean([c for _, c in times])) / rounds,
                 processes)
