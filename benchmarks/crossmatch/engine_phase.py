"""The crossmatch benchmark's engine phases: `radiolake crossmatch` attached to a running engine (eng0, eng8),
beside the same command in a new process of its own (cli0, cli8), in the same rounds.

Both kinds run the console script as a user does and are timed as whole processes from here. An attached
command's work happens in a child the engine forks, outside the command's own process tree, so its CPU
seconds are read from the engine (its own and its reaped children's, before and after the phase) and its
peak RSS from the engine's tree; and the phase fails unless the engine really served it (a command falls
back to its own process when the engine is absent or runs older code than the checkout).

Every CLI phase runs with RADIOLAKE_HOME set to the data folder's `home` (the engine's socket and the input
cache live there, never in the checkout's state directory, where other work may run) and with
RADIOLAKE_ENGINE=off unless it is an engine phase: a cold phase is never attached by accident.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from radiolake.crossmatch import engine_client

#: Engine phase -> the cold phase running the same command in its own process.
ENGINE_PHASES = {"eng0": "cli0", "eng8": "cli8"}


def home(folder: Path) -> Path:
    return folder / "home"


def env(folder: Path, phase: str, own_home: bool = True) -> dict[str, str]:
    """The phase's environment: the benchmark's state directory (`own_home`), the engine only if asked."""
    out = {**os.environ, "RADIOLAKE_ENGINE": "" if phase in ENGINE_PHASES else "off"}
    if own_home:
        out["RADIOLAKE_HOME"] = str(home(folder))
    return out


def ensure_engine(folder: Path) -> dict:
    """A running engine on the current checkout's code (restarted, untimed, when the code changed since it
    started: other work edits the checkout meanwhile); its status, with `start_s` when it was (re)started."""
    e = env(folder, "eng0")
    status = engine_client.request("status", e)
    if status is not None and not status["code_changed"]:
        return status
    if status is not None:
        engine_client.stop(e)
    t0 = time.perf_counter()
    status = engine_client.start(e)
    return {**status, "start_s": time.perf_counter() - t0}


def stop_engine(folder: Path) -> None:
    engine_client.stop(env(folder, "eng0"))


class EngineUse:
    """Around one engine phase: the engine's CPU seconds (its own and its reaped runs', which include their
    workers) and runs served, before and after; the peak RSS of its tree meanwhile."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.cpu_s = 0.0
        self.served = 0
        self.status: dict = {}

    @staticmethod
    def _cpu(pid: int) -> float:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self) -> EngineUse:
        from benchmarks.crossmatch.run import TreePeak

        self.status = ensure_engine(self.folder)
        self._cpu0 = self._cpu(self.status["pid"])
        self.peak = TreePeak(self.status["pid"]).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak.__exit__(*exc)
        after = engine_client.request("status", env(self.folder, "eng0")) or {}
        self.served = after.get("runs_served", 0) - self.status["runs_served"]
        self.cpu_s = self._cpu(self.status["pid"]) - self._cpu0

    def result(self) -> dict:
        """What the phase adds to its result: the engine's share and whether it served the run."""
        return {"engine_cpu_s": self.cpu_s, "engine_peak_rss_mb": self.peak.total / 2**20,
                "engine_served": self.served == 1, "engine_imports_s": self.status.get("preload_s"),
                "engine_start_s": self.status.get("start_s")}


def report(rounds: list[dict], layout: str) -> None:
    """The issue's goal: attached and own-process radiolake against astropy and LSDB cold and warm, each
    quantity the median over the rounds of its own (LSDB's warm call is not the run with the median cold)."""
    import statistics

    def median(phase: str, key: str = "wall_s") -> float | None:
        values = [r[phase][key] for r in rounds if key in r.get(phase, {})]
        return statistics.median(values) if values else None

    ref, cold, warm = median("astropy"), median("lsdb"), median("lsdb", "warm_s")
    for phase in ("eng0", "cli0"):
        wall = median(phase)
        if not wall or not ref:
            continue
        kind = "attached to the engine" if phase in ENGINE_PHASES else "own process"
        line = f"{phase} ({kind}), medians of {len(rounds)} rounds: {wall:.1f} s, {ref / wall:.2f}x astropy " \
               f"({ref:.1f} s)" + (" (goal on the lake >= 2.0x)" if layout == "hats" else "")
        if cold and warm:
            line += (f"; {cold / wall:.2f}x LSDB cold ({cold:.1f} s), {warm / wall:.2f}x LSDB warm ({warm:.1f} s) "
                     "(> 1: radiolake faster)")
        print(line)
    api_cold, api_warm = median("api"), median("api", "warm_s")
    if api_warm and ref:
        line = (f"api (Python API in one process, tables in memory, nothing written), medians of {len(rounds)} "
                f"rounds: warm (second call) {api_warm:.1f} s, cold (first call) {api_cold:.1f} s, "
                f"{ref / api_warm:.2f}x astropy ({ref:.1f} s, Parquet read to pair arrays)")
        if cold and warm:
            line += (f"; warm vs LSDB warm ({warm:.1f} s): {warm / api_warm:.2f}x, cold vs LSDB cold ({cold:.1f} s): "
                     f"{cold / api_cold:.2f}x (> 1: radiolake faster, < 1: BEHIND)")
        print(line)
