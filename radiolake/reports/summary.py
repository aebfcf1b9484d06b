"""The run summary (Markdown for the task log and the bucket, HTML for a browser) and its publication.

Published under ``<reports bucket>/<run_id>/``: ``*.png``, ``summary.md``, then ``index.html`` LAST, so an
index only ever exists when every picture and the Markdown it links to are already there. Keys are fixed per
run, so a rerun overwrites the same objects instead of adding new ones (idempotent).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minio import Minio

from radiolake.config import Settings, get_settings
from radiolake.lake import minio_client, put_bytes
from radiolake.reports.candidates import (
    candidate_table_html,
    candidate_table_markdown,
    single_detection_html,
)
from radiolake.reports.plots import FIGURE_CAPTIONS

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class RunCounts:
    """The numbers a reader checks first: what came in, what was rejected, what matched, how much is chance."""

    rows_in: Mapping[str, int]  # catalogue name -> rows read
    quarantined: Mapping[str, int] = field(default_factory=dict)  # catalogue name -> rows rejected at ingest
    n_pairs: int = 0
    n_best: int = 0  # radio sources with at least one star in reach
    candidates_by_grade: Mapping[str, int] = field(default_factory=dict)  # grade -> candidates
    expected_false_matches: float = 0.0  # from the offset skies

    @property
    def n_candidates(self) -> int:
        return int(sum(self.candidates_by_grade.values()))


def _check_name(kind: str, name: str) -> str:
    """Run ids and figure names become object keys and HTML links: refuse anything that could escape."""
    if not _SAFE_NAME.match(name) or ".." in name:
        raise ValueError(f"{kind} {name!r} is not usable in an object key: use letters, digits, '_', '-', '.'")
    return name


def _count_rows(counts: RunCounts) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for cat, n in counts.rows_in.items():
        rows.append((f"rows in: {cat}", f"{n:,}"))
    for cat, n in counts.quarantined.items():
        rows.append((f"quarantined: {cat}", f"{n:,}"))
    rows.append(("pairs within the radius", f"{counts.n_pairs:,}"))
    rows.append(("radio sources with a match", f"{counts.n_best:,}"))
    for grade, n in sorted(counts.candidates_by_grade.items()):
        rows.append((f"candidates, grade {grade}", f"{n:,}"))
    rows.append(("candidates, all grades", f"{counts.n_candidates:,}"))
    rows.append(("expected false matches (offset skies)", f"{counts.expected_false_matches:,.2f}"))
    return rows


def build_run_summary(
    run_id: str,
    counts: RunCounts,
    figures: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    captions: Mapping[str, str] | None = None,
    candidates: Sequence[Mapping[str, Any]] | None = None,
    single_detections: Sequence[Mapping[str, Any]] | None = None,
) -> tuple[str, str]:
    """Markdown and HTML summaries of a run: parameters, counts, the candidate table (sortable, with links
    to the star in the Gaia archive and SIMBAD), and every figure (`<name>.png`, relative).

    `figures` is keyed by figure name (its values, e.g. the PNG bytes, are not needed here); links are
    relative so the summary works both in the bucket and in a downloaded copy of the folder."""
    _check_name("run id", run_id)
    names = [_check_name("figure name", n) for n in figures]
    captions = {**FIGURE_CAPTIONS, **(captions or {})}
    count_rows = _count_rows(counts)

    md = [f"# Radio-star cross-match run `{run_id}`", ""]
    if params:
        md += ["## Parameters", "", "| parameter | value |", "|---|---|"]
        md += [f"| {k} | `{v}` |" for k, v in params.items()]
        md.append("")
    md += ["## Counts", "", "| quantity | value |", "|---|---:|"]
    md += [f"| {k} | {v} |" for k, v in count_rows]
    if candidates is not None:
        md += ["", "## Candidates", "", *candidate_table_markdown(candidates)]
    md += ["", "## Figures", ""]
    for name in names:
        caption = captions.get(name, name.replace("_", " "))
        md += [f"### {caption}", "", f"![{caption}]({name}.png)", ""]
    markdown = "\n".join(md)

    esc = html.escape
    h = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Run {esc(run_id)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.2em .6em}td.n{text-align:right}img{max-width:100%}</style>",
        "</head><body>",
        f"<h1>Radio-star cross-match run <code>{esc(run_id)}</code></h1>",
    ]
    if params:
        h.append("<h2>Parameters</h2><table><tr><th>parameter</th><th>value</th></tr>")
        h += [f"<tr><td>{esc(str(k))}</td><td><code>{esc(str(v))}</code></td></tr>" for k, v in params.items()]
        h.append("</table>")
    h.append("<h2>Counts</h2><table><tr><th>quantity</th><th>value</th></tr>")
    h += [f'<tr><td>{esc(k)}</td><td class="n">{esc(v)}</td></tr>' for k, v in count_rows]
    h.append("</table>")
    if candidates is not None:
        h += ["<h2>Candidates</h2>", candidate_table_html(candidates, counts.n_candidates or None)]
    h.append("<h2>Figures</h2>")
    for name in names:
        caption = esc(captions.get(name, name.replace("_", " ")))
        h.append(f'<figure><img src="{name}.png" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
        if name == "light_curves" and single_detections:
            h.append(single_detection_html(single_detections))
    if single_detections and "light_curves" not in names:
        h.append(single_detection_html(single_detections))
    h += ['<p><a href="summary.md">summary.md</a></p>', "</body></html>"]
    return markdown, "\n".join(h)


def report_keys(run_id: str, figure_names: list[str]) -> list[str]:
    """Object keys of a run's report, in write order (index.html last)."""
    _check_name("run id", run_id)
    return [f"{run_id}/{_check_name('figure name', n)}.png" for n in figure_names] + [
        f"{run_id}/summary.md",
        f"{run_id}/index.html",
    ]


def publish_report(
    run_id: str,
    figures: Mapping[str, bytes],
    summary: tuple[str, str],
    settings: Settings | None = None,
    client: Minio | None = None,
) -> list[str]:
    """Write the pictures, summary.md and index.html to ``<reports bucket>/<run_id>/``; return the URIs.

    Writes go straight to the final keys (S3 puts are atomic per object); the index goes last, so a reader
    that finds it finds every picture. A rerun overwrites the same keys."""
    settings = settings or get_settings()
    client = client or minio_client(settings)
    bucket = settings.bucket("reports")
    markdown, page = summary
    for name in figures:
        if f"{name}.png" not in page:
            raise ValueError(f"figure {name!r} is not linked from the summary: build it from the same figures")
    keys = report_keys(run_id, list(figures))
    for key, name in zip(keys, figures, strict=False):
        put_bytes(bucket, key, figures[name], content_type="image/png", client=client)
    put_bytes(bucket, keys[-2], markdown.encode(), content_type="text/markdown; charset=utf-8", client=client)
    put_bytes(bucket, keys[-1], page.encode(), content_type="text/html; charset=utf-8", client=client)
    return [f"s3://{bucket}/{k}" for k in keys]
