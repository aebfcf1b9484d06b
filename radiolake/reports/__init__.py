"""Run reports: the pictures of a cross-match run and the summary that lists them, in the reports bucket.

`plots` turns plain DataFrames/arrays (from the xmatch Parquet or the Postgres marts) into PNG bytes;
`summary` writes the Markdown/HTML summary and publishes everything under ``<reports bucket>/<run_id>/``.
"""

from radiolake.reports.plots import (
    cmd,
    render_figures,
    separation_histogram,
    separation_histogram_from_stats,
    sky_map,
)
from radiolake.reports.summary import RunCounts, build_run_summary, publish_report

__all__ = [
    "RunCounts",
    "build_run_summary",
    "cmd",
    "publish_report",
    "render_figures",
    "separation_histogram",
    "separation_histogram_from_stats",
    "sky_map",
]
