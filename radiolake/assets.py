"""Airflow Assets more than one DAG names, declared once (imports Airflow: used by the DAG files only)."""

from __future__ import annotations

from airflow.sdk import Asset

#: Cross-match results: each crossmatch run's event extra names the run ({"run_id", "prefix"}); the
#: warehouse DAG is scheduled on it.
XMATCH_RUNS = Asset("s3://xmatch/runs")


def catalog_asset(survey: str) -> Asset:
    """The Asset an ingest of `survey` produces: its lake catalogue."""
    return Asset(f"s3://catalogs/{survey}")
