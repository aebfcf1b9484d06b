"""The crossmatch benchmark's `api` phase: radiolake's Python API called twice in one process, as a notebook
user would, beside LSDB's cold and warm calls (lsdb_peer.match), on the same lake data and cores.

The call is the driver the CLI, the engine and the DAGs run (driver.run_crossmatch) on a local pool of the
--master's worker count, with the CLI's settings of the cli0 phase (2", fixed radius, no offset skies): the
inputs as the CLI prepares them (user_input.prepare_input: the lake folder itself, footers checked), the
tables returned in memory and nothing written, like LSDB's pair table. `wall_s` is the first call (the pool
forked and the run's modules imported before the clock: LSDB's import is also before its clock), `warm_s` the
second (the same call again on the same pool: LSDB's warm call also reuses its process). The warm call's pairs
are written after the clock for the benchmark's check against the reference.
"""

from __future__ import annotations

import time
from pathlib import Path


def _call(pool, folder: Path, stars: Path, radius_arcsec: float):
    """One API call: the inputs prepared as the CLI does, then the driver with no output folder."""
    from radiolake.crossmatch.driver import run_crossmatch
    from radiolake.crossmatch.match_config import MatchConfig, RunLabels
    from radiolake.crossmatch.user_input import prepare_input

    radio_at = prepare_input(str(folder / "radio.parquet"), "radio")
    stars_at = prepare_input(str(stars), "stars")
    config = MatchConfig(radius_arcsec=radius_arcsec, n_sigma=None, n_offsets=0)
    return run_crossmatch(pool, radio_at, stars_at, None, config, RunLabels(run_id="bench-api"))


def phase_api(folder: Path, stars: Path, master: str, radius_arcsec: float, pairs_out: Path) -> dict:
    """Time the cold and the warm call; write the warm call's pair ids to `pairs_out`."""
    import pyarrow.parquet as pq

    from radiolake.crossmatch.executors import PoolExecutor, local_workers

    with PoolExecutor(local_workers(master)) as pool:
        pool.start()  # untimed, as LSDB's imports: the workers up before the first call
        t0 = time.perf_counter()
        first = _call(pool, folder, stars, radius_arcsec)
        cold = time.perf_counter() - t0
        del first
        t0 = time.perf_counter()
        again = _call(pool, folder, stars, radius_arcsec)
        warm = time.perf_counter() - t0
    pairs = again.tables["pairs"]
    pq.write_table(pairs.select(["radio_id", "star_id"]), pairs_out)
    timings = again.summary["timings_s"]
    return {"wall_s": cold, "warm_s": warm, "pairs": pairs.num_rows, "warm_steps_s": timings,
            "task_s": again.summary.get("task_seconds")}
