"""Run the cross-match as a user does: from the CLI, spark-submit or an Airflow task.

Decides the run id and the output folder (the xmatch bucket unless told otherwise) and owns the session.
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from radiolake.config import get_settings

if TYPE_CHECKING:
    from radiolake.crossmatch.versions import PinnedInput
    from radiolake.run_params import CrossmatchParams

log = logging.getLogger(__name__)


def safe_run_id(raw: str | None) -> str:
    """A run id usable as an object-store prefix and a folder name (Airflow's contain ':' and '+', which
    become '-'). A trigger user chooses Airflow's run id, so the result must still pass the run-id rule
    (run_params.NAME_PATTERN): `.`, `..`, dots only, a leading '.' or an over-long id raise RunParamError
    rather than naming `s3://xmatch/..`."""
    from radiolake.run_params import check_run_id

    if not raw:
        import uuid

        return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return check_run_id(re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-"), f"run id (from {raw[:60]!r})")


def default_out(run_id: str) -> str:
    return f"s3://{get_settings().bucket('xmatch')}/{run_id}"


#: Spark application name of cross-match runs.
APP_NAME = "radiolake-crossmatch"
#: A Spark start begun by `prestart`: (the --master it was begun for, the future SparkContext).
_prestarted: tuple[str | None, Future] | None = None


def _master_option(args: list[str], name: str = "--master") -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
    return None


def prestart(args: list[str]) -> None:
    """For `radiolake crossmatch ...` (raw command-line arguments), begin the Spark start now, before the CLI
    imports and parses; `crossmatch_run_params` takes it over if its master is the one begun for. Anything else
    (another command, --help) starts nothing."""
    global _prestarted
    if not args or args[0] != "crossmatch" or {"--help", "-h"} & set(args):
        return
    from radiolake.crossmatch.executors import EXECUTOR_KINDS, prestart_pool, use_local

    master, kind = _master_option(args), _master_option(args, "--executor") or "auto"
    if kind in EXECUTOR_KINDS and use_local(kind, master):
        prestart_pool(master)  # no JVM: local worker processes, warm while the CLI parses (executors.py)
        return
    import radiolake.spark.session  # noqa: F401  (imported here, not in the thread: one importer at a time)

    pool = ThreadPoolExecutor(1)
    _prestarted = (master, pool.submit(spark_with_warm_workers, APP_NAME, master))
    pool.shutdown(wait=False)


def _take_prestarted(master: str | None) -> Future | None:
    global _prestarted
    begun, _prestarted = _prestarted, None
    return begun[1] if begun is not None and begun[0] == master else None


def spark_with_warm_workers(app_name: str, master: str | None):
    """A SparkContext whose Python workers are already up with the task module imported: one tiny job does it
    while the driver still imports, reads the radio rows and plans, so the first star tasks do not wait ~1 s
    for the worker daemon, its forks and their imports (workers are reused between jobs)."""
    from radiolake.spark.session import get_spark_context

    t0 = time.perf_counter()
    sc = get_spark_context(app_name, master)
    t1 = time.perf_counter()
    from radiolake.crossmatch.star_task import warm_up  # by now the driver has imported it (driver.py)

    n = max(sc.defaultParallelism, 1)
    sc.parallelize(range(n), n).foreach(warm_up)
    log.info("Spark context up in %.1f s, %d Python workers warm %.1f s later", t1 - t0, n, time.perf_counter() - t1)
    return sc


def crossmatch_run_params(params: CrossmatchParams, *, master: str | None = None,
                          radio_version: str | None = None, stars_version: str | None = None) -> dict:
    """Run one cross-match with a run's checked parameters (run_params.CrossmatchParams: from a DAG form, the
    CLI or spark-submit) on Spark, and return its run.json summary (with `prefix`: where the results are).

    Lake catalogues are read at one pinned version each: `radio_version`/`stars_version` when given (the
    versions the pipeline's own ingest produced), else their CURRENT at this moment (see `versions`).
    A user's own Parquet (not a lake catalogue) is read through `user_input.prepare_input`: any Arrow
    writer's types, no `healpix` needed; `params.radio_epoch`/`stars_epoch` fill a missing `epoch` column.
    `master`: Spark's (default: spark-submit's, RADIOLAKE_SPARK_MASTER, the stack's cluster, local)."""
    from contextlib import nullcontext

    from radiolake.crossmatch.executors import take_pool, use_local

    local = use_local(params.executor, master)  # a local pool of workers, or Spark (executors.py)
    if not local:
        import radiolake.spark.session  # noqa: F401  (imported here, not in the thread: one importer at a time)

    # The JVM (or the local workers) starts first, while the driver imports, reads radio rows, plans; user
    # files are made canonical in `workdir`, removed with it when the run ends.
    with ThreadPoolExecutor(1) as pool, tempfile.TemporaryDirectory(prefix="radiolake-input-") as workdir, \
            (take_pool(master) if local else nullcontext()) as local_pool:
        session = None if local else _take_prestarted(master) or pool.submit(spark_with_warm_workers, APP_NAME,
                                                                              master)
        from radiolake.crossmatch.driver import run_crossmatch
        from radiolake.crossmatch.executors import SparkExecutor
        from radiolake.crossmatch.increment import radio_to_read
        from radiolake.crossmatch.match_config import MatchConfig, RunLabels

        run_id = safe_run_id(params.run_id)
        out = params.out or default_out(run_id)
        (radio_in, radio_at), (stars_in, stars_at) = (
            _input(params.radio, "radio", run_id, radio_version, params.radio_epoch, Path(workdir)),
            _input(params.stars, "stars", run_id, stars_version, params.stars_epoch, Path(workdir)))
        config = MatchConfig(radius_arcsec=params.radius_arcsec, n_sigma=params.n_sigma, n_offsets=params.offsets,
                             offset_arcmin=params.offset_arcmin, k_nearest=params.k_nearest,
                             join_order=params.join_order)
        # only the radio partitions this star version has not met (increment.py); the record says which
        radio_at, radio_record, carry = radio_to_read(radio_in, stars_in, radio_at, out, run_id, config,
                                                      Path(workdir), only_new=params.only_new, region=params.region)
        labels = RunLabels(run_id, radio_in.catalog, stars_in.catalog,
                           {"radio": radio_record, "stars": stars_in.record()})
        executor = local_pool or SparkExecutor(session.result)
        summary = run_crossmatch(executor, radio_at, stars_at, out, config, labels, carry).summary
    return {**summary, "prefix": out}


def _input(location: str, kind: str, run_id: str, version: str | None, epoch: float | None, workdir: Path
           ) -> tuple[PinnedInput, str]:
    """(the input pinned to one catalogue version, where the driver reads it): a lake catalogue as pinned, a
    user's own Parquet as a canonical copy under `workdir` when it is not canonical already."""
    from radiolake.crossmatch.user_input import prepare_input
    from radiolake.crossmatch.versions import pin_input

    pinned = pin_input(location, run_id, version)
    return pinned, pinned.location if pinned.version else prepare_input(pinned.location, kind, epoch=epoch,
                                                                        workdir=workdir)
