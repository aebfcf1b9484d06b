"""The run report's candidate table: association probability, grade, distance, flux, links to the star.

The report is a stored page the bucket browser serves under a Content-Security-Policy that runs no script,
so the table sorts without one: it is rendered once per sort order, each copy an element with its own id,
and CSS shows the copy the URL's fragment targets (`#cand-distance_pc-asc`), else the default order. A
column header links to the other copies. Works the same in a downloaded copy of the folder.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from radiolake.links import star_links

#: Rows in the report's table (the best by grade, then probability); the warehouse mart has them all.
TABLE_ROWS = 100


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    numeric: bool
    first_order: str  # the order a click on the header gives first ("asc" or "desc")
    fmt: str = "{}"


COLUMNS = (
    Column("radio_id", "radio source", False, "asc"),
    Column("star_id", "star", False, "asc"),
    Column("association_probability", "P(assoc)", True, "desc", "{:.3f}"),
    Column("grade", "grade", False, "asc"),
    Column("separation_arcsec", "separation (″)", True, "asc", "{:.2f}"),
    Column("distance_pc", "distance (pc)", True, "asc", "{:,.1f}"),
    Column("flux_mjy", "flux (mJy)", True, "desc", "{:.3g}"),
    Column("freq_mhz", "freq (MHz)", True, "asc", "{:g}"),
)
DEFAULT_SORT = ("grade", "asc")
CSS = (".cand-view{display:none}.cand-view:target,.cand-view.cand-default{display:block}"
       ".cand-view:target~.cand-view.cand-default{display:none}"
       "table.cand th a{color:inherit;text-decoration:none}table.cand th a:hover{text-decoration:underline}"
       "table.cand td.n{text-align:right;font-variant-numeric:tabular-nums}")


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def sort_rows(rows: Sequence[Mapping[str, Any]], key: str, order: str) -> list[Mapping[str, Any]]:
    """Rows sorted by one column; missing values last in either order; ties by radio id (stable pages)."""
    column = next(c for c in COLUMNS if c.key == key)
    present = [r for r in rows if (_number(r.get(key)) if column.numeric else r.get(key)) is not None]
    missing = [r for r in rows if r not in present]

    def value(r: Mapping[str, Any]):
        return _number(r.get(key)) if column.numeric else str(r.get(key))

    ordered = sorted(sorted(present, key=lambda r: str(r.get("radio_id"))), key=value, reverse=order == "desc")
    return ordered + sorted(missing, key=lambda r: str(r.get("radio_id")))


def view_id(key: str, order: str) -> str:
    return f"cand-{key}-{order}"


def _cell(column: Column, row: Mapping[str, Any]) -> str:
    value = row.get(column.key)
    if column.numeric:
        number = _number(value)
        return f'<td class="n">{"" if number is None else html.escape(column.fmt.format(number))}</td>'
    if column.key == "star_id" and value is not None:
        links = star_links(value, _number(row.get("radio_ra_deg")), _number(row.get("radio_dec_deg")))
        anchors = [f'<a href="{html.escape(u)}" rel="noopener noreferrer">{name}</a>'
                   for name, u in (("Gaia", links["gaia_url"]), ("SIMBAD", links["simbad_url"])) if u]
        return f"<td>{html.escape(str(value))}<br><small>{' · '.join(anchors)}</small></td>"
    return f"<td>{'' if value is None else html.escape(str(value))}</td>"


def candidate_table_html(rows: Sequence[Mapping[str, Any]], total: int | None = None) -> str:
    """Every sort order of the table (see the module docstring); the default order's copy comes last."""
    rows = list(rows)[:TABLE_ROWS]
    if not rows:
        return "<p>No candidates in this run.</p>"
    shown = f"the best {len(rows):,} of {total:,}" if total and total > len(rows) else f"all {len(rows):,}"
    views = [(c.key, o) for c in COLUMNS for o in ("asc", "desc") if (c.key, o) != DEFAULT_SORT] + [DEFAULT_SORT]
    parts = [f"<style>{CSS}</style>", f"<p>Candidates: {shown} (click a column to sort).</p>"]
    for key, order in views:
        head = []
        for c in COLUMNS:
            if c.key == key:
                other = "desc" if order == "asc" else "asc"
                arrow = " ▲" if order == "asc" else " ▼"
                head.append(f'<th aria-sort="{"ascending" if order == "asc" else "descending"}">'
                            f'<a href="#{view_id(c.key, other)}">{html.escape(c.title)}{arrow}</a></th>')
            else:
                head.append(f'<th><a href="#{view_id(c.key, c.first_order)}">{html.escape(c.title)}</a></th>')
        body = "".join("<tr>" + "".join(_cell(c, r) for c in COLUMNS) + "</tr>" for r in sort_rows(rows, key, order))
        default = " cand-default" if (key, order) == DEFAULT_SORT else ""
        parts.append(f'<div class="cand-view{default}" id="{view_id(key, order)}"><table class="cand">'
                     f"<thead><tr>{''.join(head)}</tr></thead><tbody>{body}</tbody></table></div>")
    return "\n".join(parts)


def candidate_table_markdown(rows: Sequence[Mapping[str, Any]], limit: int = 20) -> list[str]:
    rows = sort_rows(list(rows), *DEFAULT_SORT)[:limit]
    if not rows:
        return ["No candidates in this run.", ""]
    md = ["| " + " | ".join(c.title for c in COLUMNS) + " |",
          "|" + "|".join("---:" if c.numeric else "---" for c in COLUMNS) + "|"]
    for r in rows:
        cells = []
        for c in COLUMNS:
            number = _number(r.get(c.key)) if c.numeric else None
            cells.append((c.fmt.format(number) if number is not None else "") if c.numeric
                         else str(r.get(c.key) or ""))
        md.append("| " + " | ".join(cells) + " |")
    return [*md, ""]


def single_detection_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """Stars with one radio epoch: a row each (a light curve of one point says nothing)."""
    if not rows:
        return ""
    head = "<tr><th>star</th><th>survey</th><th>epoch (yr)</th><th>freq (MHz)</th><th>flux (mJy)</th></tr>"
    body = []
    for r in rows:
        vals = [_number(r.get(k)) for k in ("epoch_jyear", "freq_mhz", "flux_mjy")]
        fmt = ["{:.2f}", "{:g}", "{:.3g}"]
        cells = "".join(f'<td class="n">{"" if v is None else f.format(v)}</td>'
                        for v, f in zip(vals, fmt, strict=True))
        body.append(f"<tr><td>{html.escape(str(r.get('star_id')))}</td><td>{html.escape(str(r.get('survey') or ''))}"
                    f"</td>{cells}</tr>")
    return ("<h3>Stars with a single radio epoch (not plotted)</h3><table class=\"cand\"><thead>" + head
            + "</thead><tbody>" + "".join(body) + "</tbody></table>")
