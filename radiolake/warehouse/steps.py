"""The warehouse steps as the Airflow tasks call them: which run to load, load it, build the marts.

Kept out of dags/warehouse.py so the DAG file stays wiring only and this logic is unit-testable without
Airflow. A run is named either by the `run_id` param (manual trigger) or by the `extra` of the cross-match
Asset event that scheduled the DAG ({"run_id": ..., "prefix": ...}).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from radiolake.config import Settings, get_settings
from radiolake.run_params import CUT_NAMES, RunParamError, check_run_id, dbt_cut_vars
from radiolake.warehouse.load import load_run

#: dbt vars a DAG run may override (candidate cuts); None means "use dbt_project.yml's value".
CUT_PARAMS = CUT_NAMES


def results_uri(run_id: str | None, prefix: str | None, settings: Settings) -> str:
    """s3:// URI of a run's results folder, from a run_id or a prefix (`s3://...`, `bucket/key` or `key`)."""
    bucket = settings.bucket("xmatch")
    if prefix:
        prefix = prefix.rstrip("/")
        if prefix.startswith("s3://"):
            return prefix
        if prefix.startswith(f"{bucket}/"):
            return f"s3://{prefix}"
        return f"s3://{bucket}/{prefix.lstrip('/')}"
    if run_id:
        return f"s3://{bucket}/{run_id}"
    raise ValueError("no run to load: give a run_id or a prefix")


def event_extras(triggering_asset_events: Mapping[Any, Iterable[Any]] | None) -> list[dict]:
    """`extra` of every triggering Asset event, oldest first (events expose `.extra` and `.timestamp`)."""
    if not triggering_asset_events:
        return []
    events = [e for evs in triggering_asset_events.values() for e in evs]
    events.sort(key=lambda e: getattr(e, "timestamp", None) or 0)
    return [dict(getattr(e, "extra", None) or {}) for e in events]


def run_uri_from_extra(extra: Mapping[str, Any], settings: Settings) -> str | None:
    """`s3://<xmatch>/<run_id>` named by an Asset event's extra, checked like a Param; None if it names no
    run. Whoever may create asset events (REST `POST /assets/events`) writes the extra, so a `prefix` must
    be a run folder of the xmatch bucket (`s3://<xmatch>/<run_id>`, `<xmatch>/<run_id>` or `<run_id>`),
    a `run_id` must pass the run-id rule, and both, if given, must name the same run; RunParamError
    (naming the extra) otherwise."""
    bucket = settings.bucket("xmatch")
    run_id, prefix = extra.get("run_id"), extra.get("prefix")
    if run_id is None and prefix is None:
        return None
    if run_id is not None:
        check_run_id(run_id, "asset event extra run_id")
    if prefix is not None:
        layout = f"s3://{bucket}/<run_id>"
        if not isinstance(prefix, str):
            raise RunParamError(f"asset event extra prefix {str(prefix)[:60]!r} is not a run folder {layout}")
        rest = prefix.rstrip("/")
        if rest.startswith("s3://"):
            rest = rest[len("s3://"):]
            if not rest.startswith(f"{bucket}/"):
                raise RunParamError(f"asset event extra prefix {prefix[:80]!r} is outside the run folders "
                                    f"{layout}")
        rest = rest.removeprefix(f"{bucket}/")
        try:
            from_prefix = check_run_id(rest, "run folder")
        except RunParamError as exc:
            raise RunParamError(f"asset event extra prefix {prefix[:80]!r} is outside the run folders "
                                f"{layout}: {exc}") from exc
        if run_id is not None and run_id != from_prefix:
            raise RunParamError(f"asset event extra run_id {run_id!r} and prefix {prefix[:80]!r} name "
                                f"different runs")
        run_id = from_prefix
    return results_uri(run_id, None, settings)


def runs_to_load(params: Mapping[str, Any] | None, triggering_asset_events=None,
                 settings: Settings | None = None) -> list[str]:
    """Results URIs to load: the param's run, else every run announced by the triggering events. Every
    value is checked before any is returned, so one bad extra loads nothing (RunParamError)."""
    settings = settings or get_settings()
    params = params or {}
    if params.get("run_id"):
        return [results_uri(check_run_id(params["run_id"], "run conf run_id"), None, settings)]
    uris = []
    for extra in event_extras(triggering_asset_events):
        uri = run_uri_from_extra(extra, settings)
        if uri and uri not in uris:
            uris.append(uri)
    if not uris:
        raise ValueError("no run to load: trigger with param run_id, or let a cross-match Asset event "
                         "(extra {'run_id': ..., 'prefix': ...}) schedule it")
    return uris


def load_task(params: Mapping[str, Any] | None, triggering_asset_events=None) -> list[dict]:
    """Load each run (idempotent: a retry replaces the run's rows); returns rows per table per run."""
    settings = get_settings()
    reports = []
    for uri in runs_to_load(params, triggering_asset_events, settings):
        report = load_run(uri, settings=settings)
        reports.append({"run_id": report.run_id, "source_uri": uri, "rows": report.rows,
                        "seconds": round(report.seconds, 3)})
    return reports


def dbt_vars(params: Mapping[str, Any] | None) -> dict:
    """The run's candidate cuts as checked numbers (RunParamError for text, NaN or out of bounds)."""
    return dbt_cut_vars(params)
