"""Run the cross-match as a user does: from the CLI, spark-submit or an Airflow task.

Decides the run id and the output folder (the xmatch bucket unless told otherwise) and owns the session.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from radiolake.config import get_settings


def safe_run_id(raw: str | None) -> str:
    """A run id usable as an object-store prefix and a folder name (Airflow's contain ':' and '+')."""
    if not raw:
        import uuid

        return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-")


def default_out(run_id: str) -> str:
    return f"s3://{get_settings().bucket('xmatch')}/{run_id}"


def spark_with_warm_workers(app_name: str, master: str | None):
    """A SparkContext whose Python workers are already up with the task module imported: one tiny job does it
    while the driver still imports, reads the radio rows and plans, so the first star tasks do not wait ~1 s
    for the worker daemon, its forks and their imports (workers are reused between jobs)."""
    from radiolake.spark_session import get_spark_context

    sc = get_spark_context(app_name, master)
    from radiolake.crossmatch.star_task import warm_up  # by now the driver has imported it (job.py)

    n = max(sc.defaultParallelism, 1)
    sc.parallelize(range(n), n).foreach(warm_up)
    return sc


def crossmatch_run(
    radio: str,
    stars: str,
    *,
    radius_arcsec: float | None,
    n_sigma: float | None = None,
    offsets: int = 8,
    offset_arcmin: float = 3.0,
    k_nearest: int | None = None,
    out: str | None = None,
    run_id: str | None = None,
    master: str | None = None,
    join_order: int | None = None,
    density_order: int = 7,
    region_order: int = 3,
    radio_version: str | None = None,
    stars_version: str | None = None,
) -> dict:
    """Run one cross-match and return its run.json summary (with `prefix`: where the results are).

    Lake catalogues are read at one pinned version each: `radio_version`/`stars_version` when given (the
    versions the pipeline's own ingest produced), else their CURRENT at this moment (see `versions`)."""
    import radiolake.spark_session  # noqa: F401  (imported here, not in the thread: one importer at a time)

    with ThreadPoolExecutor(1) as pool:  # the JVM starts first, while the driver imports, reads radio rows, plans
        session = pool.submit(spark_with_warm_workers, "radiolake-crossmatch", master)
        from radiolake.crossmatch.job import run_crossmatch
        from radiolake.crossmatch.versions import pin_input

        run_id = safe_run_id(run_id)
        out = out or default_out(run_id)
        radio_in, stars_in = pin_input(radio, run_id, radio_version), pin_input(stars, run_id, stars_version)
        summary = run_crossmatch(
            session.result,
            radio_in.location,
            stars_in.location,
            out,
            radio_name=radio_in.catalog,
            star_name=stars_in.catalog,
            catalog_versions={"radio": radio_in.record(), "stars": stars_in.record()},
            radius_arcsec=radius_arcsec,
            n_sigma=n_sigma,
            n_offsets=offsets,
            offset_arcmin=offset_arcmin,
            k_nearest=k_nearest,
            join_order=join_order,
            density_order=density_order,
            region_order=region_order,
            run_id=run_id,
        )
    return {**summary, "prefix": out}
