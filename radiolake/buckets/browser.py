"""The bucket browser: the lake's buckets and reports, behind the Airflow login, read through the S3 API.

Mounted in Airflow's api-server by the plugin in `plugins/radiolake_buckets.py`, so it lives on the Airflow
UI's origin and accepts exactly what the UI and the REST API accept: the UI's session cookie or an
`Authorization: Bearer` token from `POST /auth/token`. Anything else gets 401 (a browser asking for HTML is
sent to the login page instead, and comes back after). The object store itself keeps its keys: this app
reads with the pipeline's S3 identity and only inside the lake's buckets, and serves stored HTML under a
Content-Security-Policy that runs no script, so a page in a bucket cannot act as the logged-in user.
"""

from __future__ import annotations

import html
import mimetypes
from collections.abc import Iterator
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from minio.error import S3Error

from radiolake.buckets import URL_PREFIX
from radiolake.config import Settings, get_settings
from radiolake.lake import minio_client

#: Stored pages may show their own images and styles, nothing else: no script, no form, no frame.
OBJECT_CSP = "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; sandbox allow-same-origin"
CHUNK = 256 * 1024


class LoginRequired(Exception):
    """Raised by `require_login`; turned into a 401, or a redirect to the login page for a browser."""


async def require_login(request: Request) -> str:
    """The Airflow user's name, validated the way Airflow's own API validates it (bearer first, then cookie)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise LoginRequired
    try:
        user = await get_auth_manager().get_user_from_token(token)
    except Exception as exc:  # noqa: BLE001 - expired, forged, revoked: all mean "not logged in"
        raise LoginRequired from exc
    return user.get_name()


def _login_url(request: Request) -> str:
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager().get_url_login(next_url=str(request.url))


def _page(title: str, body: list[str]) -> HTMLResponse:
    head = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;margin:2em}td{padding:.1em 1em .1em 0}</style></head><body>")
    return HTMLResponse(head + f"<h1>{html.escape(title)}</h1>" + "".join(body) + "</body></html>",
                        headers={"Cache-Control": "no-store"})


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href, quote=True)}">{html.escape(text)}</a>'


def create_app(settings_factory=get_settings) -> FastAPI:
    """The browser app; `settings_factory` is read per request so a restarted stack's keys are picked up."""
    app = FastAPI(title="radiolake bucket browser", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(LoginRequired)
    async def _unauthenticated(request: Request, _: LoginRequired) -> Response:
        if "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(_login_url(request), status_code=status.HTTP_303_SEE_OTHER)
        return Response('{"detail":"Not authenticated"}', status_code=status.HTTP_401_UNAUTHORIZED,
                        media_type="application/json", headers={"WWW-Authenticate": "Bearer"})

    def lake_bucket(settings: Settings, bucket: str) -> str:
        if bucket not in settings.buckets.values():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no lake bucket {bucket!r}")
        return bucket

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> HTMLResponse:
        user = await require_login(request)
        settings = settings_factory()
        rows = [f"<li>{_link(f'{URL_PREFIX}/b/{quote(b)}/', b)} ({html.escape(kind)})</li>"
                for kind, b in settings.buckets.items()]
        return _page("Lake buckets", [f"<p>signed in as {html.escape(user)}</p><ul>", *rows, "</ul>"])

    @app.get("/b/{bucket}/{key:path}")
    async def browse(request: Request, bucket: str, key: str = "") -> Response:
        await require_login(request)
        settings = settings_factory()
        bucket = lake_bucket(settings, bucket)
        client = minio_client(settings)
        if key == "" or key.endswith("/"):
            return _listing(client, bucket, key)
        return _object(client, bucket, key)

    return app


def _listing(client, bucket: str, prefix: str) -> HTMLResponse:
    rows = []
    if prefix:
        parent = prefix.rstrip("/").rpartition("/")[0]
        parent_href = f"{URL_PREFIX}/b/{quote(bucket)}/" + (quote(parent) + "/" if parent else "")
        rows.append(f"<tr><td>{_link(parent_href, '..')}</td></tr>")
    for obj in client.list_objects(bucket, prefix=prefix or None, recursive=False):
        name = obj.object_name[len(prefix):]
        href = f"{URL_PREFIX}/b/{quote(bucket)}/{quote(obj.object_name)}"
        size = "" if obj.is_dir else f"{obj.size:,} B"
        rows.append(f"<tr><td>{_link(href, name)}</td><td>{size}</td></tr>")
    if len(rows) == (1 if prefix else 0):
        rows.append("<tr><td>(empty)</td></tr>")
    return _page(f"{bucket}/{prefix}", ["<table>", *rows, "</table>"])


def _object(client, bucket: str, key: str) -> Response:
    try:
        resp = client.get_object(bucket, key)
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"{bucket}/{key}: no such object") from exc
        raise
    content_type = resp.headers.get("Content-Type") or ""
    if not content_type or content_type == "application/octet-stream":
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"

    def body() -> Iterator[bytes]:
        try:
            yield from resp.stream(CHUNK)
        finally:
            resp.close()
            resp.release_conn()

    headers = {"Content-Security-Policy": OBJECT_CSP, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}
    if length := resp.headers.get("Content-Length"):
        headers["Content-Length"] = length
    return StreamingResponse(body(), media_type=content_type, headers=headers)
