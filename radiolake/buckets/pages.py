"""The browser's HTML: one page frame styled like the Airflow 3 UI around it, and the tables inside.

Pages carry no script at all (sorting and paging are links the server answers), and their own
Content-Security-Policy allows only this origin's images and frames, inline styles, and no form or script.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlencode

from fastapi.responses import HTMLResponse

from radiolake.buckets import URL_PREFIX
from radiolake.buckets.listing import SORT_KEYS, Page, breadcrumbs, human_size

PAGE_CSP = ("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-src 'self'; "
            "base-uri 'none'; form-action 'none'; frame-ancestors 'self'")
STYLE = """
:root{--fg:#1a202c;--muted:#718096;--line:#e2e8f0;--bg:#f7fafc;--accent:#017cee;--head:#edf2f7}
*{box-sizing:border-box}body{margin:0;font:14px/1.5 Inter,system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;
color:var(--fg);background:#fff}header{display:flex;align-items:center;gap:1em;padding:.6em 1.5em;
border-bottom:1px solid var(--line);background:var(--bg)}header a.home{font-weight:600;color:var(--fg);
text-decoration:none}header .user{margin-left:auto;color:var(--muted)}main{padding:1em 1.5em;max-width:1400px}
h1{font-size:1.35em;margin:.2em 0 .6em}h2{font-size:1.1em;margin:1.2em 0 .4em}a{color:var(--accent);
text-decoration:none}a:hover{text-decoration:underline}nav.crumbs{margin-bottom:.8em;color:var(--muted)}
nav.crumbs a{font-weight:500}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{text-align:left;padding:.35em .8em;border-bottom:1px solid var(--line);vertical-align:top}
th{background:var(--head);font-weight:600;white-space:nowrap}td.num,th.num{text-align:right}
tr:hover td{background:#f0f7ff}.muted{color:var(--muted)}.pager{margin:.8em 0;display:flex;gap:1em}
.btn{display:inline-block;padding:.3em .9em;border:1px solid var(--line);border-radius:6px;background:#fff}
pre{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.8em;overflow:auto;
max-height:70vh;font-size:12.5px}iframe{width:100%;height:75vh;border:1px solid var(--line);border-radius:6px}
img.preview{max-width:100%;border:1px solid var(--line);border-radius:6px}.card{border:1px solid var(--line);
border-radius:8px;padding:.8em 1em;margin:.6em 0}dl{display:grid;grid-template-columns:max-content 1fr;
gap:.2em 1.2em;margin:0}dt{color:var(--muted)}dd{margin:0}.scroll{overflow-x:auto}
"""


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def link(href: str, text: str, **attrs: str) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f'<a href="{esc(href)}"{extra}>{esc(text)}</a>'


def folder_url(bucket: str, prefix: str, **query: str) -> str:
    url = f"{URL_PREFIX}/b/{quote(bucket)}/{quote(prefix)}"
    query = {k: v for k, v in query.items() if v}
    return url + ("?" + urlencode(query) if query else "")


def object_url(bucket: str, key: str, download: bool = False) -> str:
    return f"{URL_PREFIX}/b/{quote(bucket)}/{quote(key)}" + ("?download=1" if download else "")


def view_url(bucket: str, key: str) -> str:
    return f"{URL_PREFIX}/v/{quote(bucket)}/{quote(key)}"


def page(title: str, user: str, body: list[str], status_code: int = 200) -> HTMLResponse:
    doc = ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
           f"<meta name='viewport' content='width=device-width'><title>{esc(title)}</title>"
           f"<style>{STYLE}</style></head><body><header>{link(URL_PREFIX + '/', 'Lake buckets', class_='home')}"
           f"<a href='/'>Airflow</a><span class='user'>{esc(user)}</span></header><main>"
           + "".join(body) + "</main></body></html>")
    return HTMLResponse(doc, status_code=status_code, headers={
        "Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP, "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin"})


def crumbs(bucket: str, key_or_prefix: str) -> str:
    folder = key_or_prefix if key_or_prefix.endswith("/") or not key_or_prefix else \
        key_or_prefix.rpartition("/")[0] + ("/" if "/" in key_or_prefix else "")
    parts = [link(URL_PREFIX + "/", "buckets")]
    parts += [link(folder_url(bucket, p), label) for label, p in breadcrumbs(bucket, folder)]
    if key_or_prefix and not key_or_prefix.endswith("/"):
        parts.append(f"<span>{esc(key_or_prefix.rpartition('/')[2])}</span>")
    return "<nav class='crumbs' aria-label='breadcrumbs'>" + " / ".join(parts) + "</nav>"


def listing_table(bucket: str, listing: Page, sort: str, descending: bool, token: str | None) -> str:
    headers = []
    for key, label, cls in (("name", "Name", ""), ("size", "Size", "num"), ("modified", "Last modified", ""),
                            ("type", "Type", "")):
        assert key in SORT_KEYS
        active = key == sort
        order = "asc" if active and descending else ("desc" if active else "asc")
        arrow = (" ▼" if descending else " ▲") if active else ""
        href = folder_url(bucket, listing.prefix, sort=key, order=order, token=token or "")
        sort_attr = ("descending" if descending else "ascending") if active else "none"
        headers.append(f"<th class='{cls}' aria-sort='{sort_attr}'>"
                       f"{link(href, label + arrow, data_sort=key)}</th>")
    rows = []
    if listing.prefix:
        parent = listing.prefix.rstrip("/").rpartition("/")[0]
        rows.append(f"<tr><td>{link(folder_url(bucket, parent + '/' if parent else ''), '..')}</td>"
                    "<td></td><td></td><td class='muted'>parent folder</td><td></td></tr>")
    for e in listing.entries:
        if e.is_dir:
            name = link(folder_url(bucket, e.name), e.base)
            actions = ""
        else:
            name = link(view_url(bucket, e.name), e.base)
            actions = link(object_url(bucket, e.name, download=True), "download", class_="muted")
        modified = e.modified.strftime("%Y-%m-%d %H:%M:%S UTC") if e.modified else ""
        rows.append(f"<tr class='entry' data-name='{esc(e.base)}'><td>{name}</td>"
                    f"<td class='num' data-bytes='{e.size if e.size is not None else ''}'>{human_size(e.size)}</td>"
                    f"<td>{modified}</td><td>{esc(e.label)}</td><td>{actions}</td></tr>")
    if not listing.entries:
        rows.append("<tr><td colspan='5' class='muted'>(empty)</td></tr>")
    return ("<div class='scroll'><table id='listing'><thead><tr>" + "".join(headers) + "<th></th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table></div>")


def pager(bucket: str, listing: Page, sort: str, descending: bool, token: str | None) -> str:
    parts = []
    if token:
        parts.append(link(folder_url(bucket, listing.prefix, sort=sort if sort != "name" else "",
                                     order="desc" if descending else ""), "« first page", class_="btn"))
    if listing.next_token:
        parts.append(link(folder_url(bucket, listing.prefix, sort=sort if sort != "name" else "",
                                     order="desc" if descending else "", token=listing.next_token),
                          "next page »", class_="btn", rel="next"))
    shown = f"<span class='muted'>{len(listing.entries)} entries on this page" + (
        "; sorting orders this page" if listing.next_token or token else "") + "</span>"
    return "<div class='pager'>" + "".join(parts) + shown + "</div>"


def table(columns: list[str], rows: list[list[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
    ident = f" id='{esc(table_id)}'" if table_id else ""
    return f"<div class='scroll'><table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def definition_list(items: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"
