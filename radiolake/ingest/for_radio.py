"""`radiolake ingest SURVEY --for-radio RADIO`: plan, size, fetch and ingest a stellar catalogue over a radio
catalogue's footprint (footprint_fetch, tap_upload). The plan is said (`say`) before anything is fetched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from radiolake.config import Settings, get_settings
from radiolake.ingest import catalog as cat
from radiolake.ingest.fetch_size import FetchTooLarge
from radiolake.ingest.footprint_fetch import (
    FetchContext,
    FootprintPlan,
    Mode,
    check_plan_size,
    fetch_pixels,
    plan_footprint_fetch,
)
from radiolake.ingest.run import IngestError, IngestResult, Progress, ingest_survey
from radiolake.ingest.sources import FetchError, RetryPolicy
from radiolake.ingest.tap_upload import fetch_upload, radio_positions
from radiolake.run_params import DEFAULT_MAX_RADIUS_ARCSEC
from radiolake.surveys import SurveyDefinition, get_survey


def _lake(fs: pafs.FileSystem | None, catalogs_root: str | None, raw_root: str | None,
          settings: Settings | None) -> tuple[pafs.FileSystem, str, str]:
    if fs is not None and catalogs_root is not None and raw_root is not None:
        return fs, catalogs_root, raw_root
    from radiolake.lake import arrow_fs

    settings = settings or get_settings()
    return (fs or arrow_fs(settings), catalogs_root or settings.bucket("catalogs"),
            raw_root or settings.bucket("raw"))


def _current(fs: pafs.FileSystem, catalogs_root: str, name: str, survey: str) -> IngestResult:
    """The star catalogue's CURRENT as the result of an ingest that had nothing to do."""
    base = f"{catalogs_root.rstrip('/')}/{name}"
    info = cat.open_catalog(fs, base, cat.current_version(fs, base))
    q = info.metadata.get("quarantine", {})
    return IngestResult(name, survey, info.version, True, info.n_rows, q.get("rows_quarantined", 0), info.path,
                        q.get("path"), info.metadata)


# size: the request's options, passed on to the ingest as they are
def ingest_for_radio(survey: str | SurveyDefinition, radio: str, *, name: str | None = None, mode: Mode = "auto",
                     radius_arcsec: float = DEFAULT_MAX_RADIUS_ARCSEC, allow_large_fetch: bool = False,
                     source_url: str | None = None, tap_page_size: int | None = None,
                     retry: RetryPolicy | None = None, say: Callable[[str], None] = print,
                     progress: Progress | None = None, fs: pafs.FileSystem | None = None,
                     catalogs_root: str | None = None, raw_root: str | None = None,
                     settings: Settings | None = None) -> tuple[FootprintPlan, IngestResult]:
    """Fetch `survey` over the footprint of the lake's radio catalogue `radio` and grow its catalogue by it.
    Refuses (FetchTooLarge, with rows and bytes) before any request when the estimate is above the limit.
    Returns the plan and the ingest's result (the star catalogue's CURRENT, `reused`, when it holds the
    footprint already: nothing fetched, nothing written)."""
    definition = survey if isinstance(survey, SurveyDefinition) else get_survey(survey)
    fs, catalogs_root, raw_root = _lake(fs, catalogs_root, raw_root, settings)
    try:  # a bad radio name, survey or size is the request's fault: IngestError, as for any ingest
        plan = plan_footprint_fetch(definition, fs, catalogs_root, radio, name=name, radius_arcsec=radius_arcsec,
                                    mode=mode)
        for line in plan.describe():
            say(line)
        check_plan_size(plan, allow_large_fetch)
    except (FetchError, FetchTooLarge) as exc:
        raise IngestError(str(exc)) from exc
    if plan.mode == "none":
        return plan, _current(fs, catalogs_root, plan.catalogue, definition.name)
    ctx = FetchContext(definition, fs, f"{raw_root.rstrip('/')}/{definition.name}",
                       source_url or definition.source["url"], retry or RetryPolicy(),
                       tap_page_size or int(definition.source.get("page_size", 100_000)),
                       progress or (lambda stage, done, total: None))

    def fetcher(work_dir: Path) -> list[Any]:
        if plan.mode == "upload":
            positions = radio_positions(fs, catalogs_root, plan.radio)
            return fetch_upload(ctx, positions, plan.radio.margin.arcsec, work_dir)
        return fetch_pixels(ctx, plan.todo, work_dir)

    result = ingest_survey(definition, region=plan.region, name=plan.catalogue, fetcher=fetcher,
                           allow_large_fetch=True,  # sized above, by the plan's own estimate
                           progress=progress, fs=fs, catalogs_root=catalogs_root, raw_root=raw_root,
                           settings=settings)
    say(f"fetched {ctx.queries} page(s) from {ctx.url}; {plan.catalogue} version {result.version}: "
        f"{result.n_rows:,} rows ({result.catalog_path})")
    return plan, result
