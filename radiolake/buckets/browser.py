"""The bucket browser: the lake's buckets, behind the Airflow login and a role, read with a read-only S3 key.

Mounted in Airflow's api-server by the plugin in `plugins/radiolake_buckets.py`, so it lives on the Airflow
UI's origin and accepts exactly what the UI and the REST API accept: the UI's session cookie or an
`Authorization: Bearer` token from `POST /auth/token`. No login: 401 (a browser asking for HTML is sent to
the login page, and comes back after). Logged in without a role that may read the buckets: 403 (see
access.py). The app only ever calls GET/HEAD/LIST through the S3 API, with the `browser` identity, which the
object store lets read and list the lake's buckets and nothing else: read-only by construction.

Routes (under URL_PREFIX): `/` the buckets; `/b/<bucket>/<folder>/` a folder, a page at a time
(`?sort=name|size|modified|type&order=asc|desc&token=<next>`); `/b/<bucket>/<key>` the object itself
(`?download=1` as an attachment), stored HTML under a Content-Security-Policy that runs no script;
`/v/<bucket>/<key>` an object's page with its preview; `/sky/<bucket>/<version folder>/` a catalogue
version's coverage on the sky (PNG).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from minio.error import S3Error

from radiolake.buckets import URL_PREFIX, catalog_view, listing, pages, preview
from radiolake.buckets.access import LoginRequired, RoleRequired, browser_arrow_fs, browser_client, require_reader
from radiolake.config import ConfigError, Settings, get_settings

#: Stored pages may show their own images and styles, nothing else: no script, no form, no frame.
OBJECT_CSP = "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; sandbox allow-same-origin"
CHUNK = 256 * 1024
MISSING = ("NoSuchKey", "NoSuchObject", "NoSuchBucket")

__all__ = ["OBJECT_CSP", "URL_PREFIX", "create_app"]


def _login_url(request: Request) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))


def _add_error_handlers(app: FastAPI) -> None:
    """Refusals as the client reads them: a browser is sent to the login page or shown a page, an API
    client gets JSON with the right status."""

    @app.exception_handler(LoginRequired)
    async def _unauthenticated(request: Request, _: LoginRequired) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(_login_url(request), status_code=status.HTTP_303_SEE_OTHER)
        return Response('{"detail":"Not authenticated"}', status_code=status.HTTP_401_UNAUTHORIZED,
                        media_type="application/json", headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(RoleRequired)
    async def _forbidden(request: Request, exc: RoleRequired) -> Response:
        text = f"{exc.args[0] if exc.args else 'this user'}: your role may not read the lake's buckets"
        if "text/html" in request.headers.get("accept", ""):
            return pages.page("Not allowed", str(exc.args[0] if exc.args else ""),
                              [f"<h1>Not allowed</h1><p>{pages.esc(text)}</p>"], status.HTTP_403_FORBIDDEN)
        return Response(json.dumps({"detail": text}), status_code=status.HTTP_403_FORBIDDEN,
                        media_type="application/json")

    @app.exception_handler(listing.BadRequest)
    async def _bad_request(request: Request, exc: listing.BadRequest) -> Response:
        return Response(json.dumps({"detail": str(exc)}), status_code=status.HTTP_400_BAD_REQUEST,
                        media_type="application/json")

    @app.exception_handler(ConfigError)
    async def _misconfigured(request: Request, exc: ConfigError) -> Response:
        return Response(json.dumps({"detail": str(exc)}), status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                        media_type="application/json")


def create_app(settings_factory=get_settings) -> FastAPI:
    """The browser app; `settings_factory` is read per request so a restarted stack's keys are picked up."""
    app = FastAPI(title="radiolake bucket browser", docs_url=None, redoc_url=None, openapi_url=None)
    _add_error_handlers(app)

    async def reader(request: Request) -> str:
        return await require_reader(request.headers, request.cookies)

    def lake_bucket(settings: Settings, bucket: str) -> str:
        if bucket not in settings.buckets.values():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lake bucket {bucket!r}")
        return bucket

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        user = await reader(request)
        settings = settings_factory()
        rows = [[kind, b] for kind, b in settings.buckets.items()]
        body = ["<h1>Lake buckets</h1><div class='scroll'><table id='buckets'><thead><tr><th>Bucket</th>"
                "<th>Holds</th></tr></thead><tbody>"]
        body += [f"<tr><td>{pages.link(pages.folder_url(b, ''), b)}</td><td>{pages.esc(kind)}</td></tr>"
                 for kind, b in rows]
        body.append("</tbody></table></div>")
        return pages.page("Lake buckets", user, body)

    @app.get("/b/{bucket}/{key:path}")
    async def browse(request: Request, bucket: str, key: str = "", sort: str = "name", order: str = "asc",
                     token: str | None = None, download: bool = False) -> Response:
        user = await reader(request)
        settings = settings_factory()
        bucket = lake_bucket(settings, bucket)
        if key == "" or key.endswith("/"):
            return await run_in_threadpool(_folder, settings, user, bucket, key, sort, order, token)
        return await run_in_threadpool(_object, browser_client(settings), bucket, key, download)

    @app.get("/v/{bucket}/{key:path}", response_class=HTMLResponse)
    async def view(request: Request, bucket: str, key: str) -> HTMLResponse:
        user = await reader(request)
        settings = settings_factory()
        bucket = lake_bucket(settings, bucket)
        if key == "" or key.endswith("/"):
            return RedirectResponse(pages.folder_url(bucket, key), status_code=status.HTTP_303_SEE_OTHER)
        return await run_in_threadpool(_view, settings, user, bucket, key)

    @app.get("/sky/{bucket}/{prefix:path}")
    async def sky(request: Request, bucket: str, prefix: str) -> Response:
        await reader(request)
        settings = settings_factory()
        bucket = lake_bucket(settings, bucket)
        listing.check_prefix(prefix)
        if not catalog_view.is_version_folder(prefix):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not a catalogue version folder")
        found = await run_in_threadpool(catalog_view.read_metadata, browser_client(settings), bucket, prefix)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "no metadata.json in this folder")
        meta, etag, _ = found
        png = await run_in_threadpool(catalog_view.cached_coverage, bucket, prefix, etag, meta)
        return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

    return app


def _folder(settings: Settings, user: str, bucket: str, prefix: str, sort: str, order: str,
            token: str | None) -> HTMLResponse:
    prefix = listing.check_prefix(prefix)
    after = listing.check_token(token, prefix)
    if order not in ("asc", "desc"):
        raise listing.BadRequest("order must be asc or desc")
    client = browser_client(settings)
    try:
        page_ = listing.list_page(client, bucket, prefix, after)
    except S3Error as exc:
        raise listing.BadRequest(f"the object store refused the listing ({exc.code})") from exc
    descending = order == "desc"
    page_ = listing.Page(page_.prefix, listing.sort_entries(page_.entries, sort, descending), page_.next_token)
    body = [pages.crumbs(bucket, prefix), f"<h1>{pages.esc(bucket)}/{pages.esc(prefix)}</h1>"]
    if bucket == settings.buckets.get("catalogs") and catalog_view.is_version_folder(prefix) and not after:
        body.append(_catalog_card(client, bucket, prefix))
    body += [pages.listing_table(bucket, page_, sort, descending, after),
             pages.pager(bucket, page_, sort, descending, after)]
    return pages.page(f"{bucket}/{prefix}", user, body)


def _catalog_card(client, bucket: str, prefix: str) -> str:
    found = catalog_view.read_metadata(client, bucket, prefix)
    if found is None:
        return ""
    meta, _, committed = found
    s = catalog_view.summarise(meta, committed)
    raw = s.provenance.get("raw") or []
    raw_names = ", ".join(_raw_name(r) for r in raw[:5])
    items = [("catalogue", f"{s.name} — {s.title}" if s.title else s.name), ("version", s.version),
             ("state", "committed" if committed else "NOT committed (incomplete version)"),
             ("rows", f"{s.n_rows:,}"), ("partitions", f"{s.n_partitions:,} (HEALPix orders "
                                                         f"{', '.join(map(str, s.healpix_orders)) or '-'})"),
             ("epoch", "" if s.epoch_min is None and s.epoch_max is None else
              f"{s.epoch_min} – {s.epoch_max}" + (f" ({s.epoch_rule})" if s.epoch_rule else "")),
             ("committed at", s.committed_utc),
             ("quarantined rows", f"{s.quarantined:,}" + (
                 " (" + ", ".join(f"{k}: {v}" for k, v in s.quarantine_reasons.items()) + ")"
                 if s.quarantine_reasons else "")),
             ("pipeline version", str(s.provenance.get("pipeline_version", ""))),
             ("raw inputs", raw_names + (f" and {len(raw) - 5} more" if len(raw) > 5 else ""))]
    items = [(k, v) for k, v in items if v]  # what the metadata does not say is left out
    sky_url = f"{URL_PREFIX}/sky/{quote(bucket)}/{quote(prefix)}"
    return ("<section class='card' id='catalog-summary'><h2>Catalogue version</h2>" + pages.definition_list(items)
            + f"<h2>Coverage</h2><img class='preview' id='coverage' src='{pages.esc(sky_url)}' "
            "alt='sky coverage of the HEALPix partitions (Mollweide)'>"
            + f"<p>{pages.link(pages.view_url(bucket, prefix + 'metadata.json'), 'metadata.json')}</p></section>")


def _raw_name(record) -> str:
    """One raw input of provenance: its stored object, a file name, or (synthetic skies) its kind and stream."""
    if not isinstance(record, dict):
        return str(record)
    name = record.get("object") or record.get("name") or record.get("path")
    if name:
        return str(name).rpartition("/")[2]
    return " ".join(str(record[k]) for k in ("kind", "stream") if record.get(k)) or "?"


def _stat(client, bucket: str, key: str):
    try:
        return client.stat_object(bucket, key)
    except S3Error as exc:
        if exc.code in MISSING:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{bucket}/{key}: no such object") from exc
        raise


def _view(settings: Settings, user: str, bucket: str, key: str) -> HTMLResponse:
    client = browser_client(settings)
    stat = _stat(client, bucket, key)
    kind = preview.preview_kind(key)
    raw_url, download_url = pages.object_url(bucket, key), pages.object_url(bucket, key, download=True)
    modified = stat.last_modified.strftime("%Y-%m-%d %H:%M:%S UTC") if stat.last_modified else ""
    body = [pages.crumbs(bucket, key), f"<h1>{pages.esc(key.rpartition('/')[2])}</h1>",
            "<div class='card'>" + pages.definition_list([
                ("size", f"{listing.human_size(stat.size)} ({stat.size:,} bytes)"), ("last modified", modified),
                ("type", listing.type_label(key))])
            + f"<p>{pages.link(download_url, 'Download', class_='btn', id='download')} "
              f"{pages.link(raw_url, 'Open raw', class_='btn')}</p></div>"]
    if kind == "image":
        body.append(f"<img class='preview' id='image-preview' src='{pages.esc(raw_url)}' alt='{pages.esc(key)}'>")
    elif kind == "html":
        # Sandboxed: same-origin (its images load with the session) but no script, form or top navigation.
        body.append(f"<iframe id='html-preview' sandbox='allow-same-origin' src='{pages.esc(raw_url)}' "
                    f"title='{pages.esc(key)}'></iframe>")
    elif kind == "text":
        text = preview.text_preview(preview.read_head(client, bucket, key), key, stat.size)
        note = f"<p class='muted'>first {preview.TEXT_BYTES // 1024} KiB shown</p>" if text.truncated else ""
        if text.rows:
            body.append(pages.table(text.rows[0], text.rows[1:], "csv-preview") + note)
        else:
            body.append(f"<pre id='text-preview'>{pages.esc(text.text)}</pre>{note}")
    elif kind == "parquet":
        body.append(_parquet_section(settings, bucket, key))
    else:
        body.append("<p class='muted'>No preview for this type: download it.</p>")
    return pages.page(key, user, body)


def _parquet_section(settings: Settings, bucket: str, key: str) -> str:
    fs = browser_arrow_fs(settings)
    try:
        with fs.open_input_file(f"{bucket}/{key}") as fh:
            pv = preview.parquet_preview(fh)
    except Exception as exc:  # noqa: BLE001 - a broken file is shown as such, not a 500
        return f"<p class='muted'>Not a readable Parquet file: {pages.esc(type(exc).__name__)}: {pages.esc(exc)}</p>"
    facts = [("rows", f"{pv.num_rows:,}"), ("row groups", f"{pv.num_row_groups:,}"), ("columns", str(len(pv.schema))),
             ("written by", pv.created_by)]
    facts += [(k, v) for k, v in list(pv.key_value.items())[:5]]
    return ("<section id='parquet-preview'><div class='card'>" + pages.definition_list(facts) + "</div>"
            "<h2>Schema</h2>" + pages.table(["column", "type"], [list(f) for f in pv.schema], "parquet-schema")
            + f"<h2>First {len(pv.rows)} rows</h2>"
            + pages.table(pv.columns, [[preview.cell(v) for v in row] for row in pv.rows], "parquet-rows")
            + "</section>")


def _object(client, bucket: str, key: str, download: bool) -> Response:
    try:
        resp = client.get_object(bucket, key)
    except S3Error as exc:
        if exc.code in MISSING:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{bucket}/{key}: no such object") from exc
        raise
    content_type = resp.headers.get("Content-Type") or ""
    if not content_type or content_type in ("application/octet-stream", "binary/octet-stream"):
        content_type = listing.content_type(key)

    def body() -> Iterator[bytes]:
        try:
            yield from resp.stream(CHUNK)
        finally:
            resp.close()
            resp.release_conn()

    headers = {"Content-Security-Policy": OBJECT_CSP, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}
    if download:
        name = key.rpartition("/")[2]
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    if length := resp.headers.get("Content-Length"):
        headers["Content-Length"] = length
    return StreamingResponse(body(), media_type=content_type, headers=headers)
