"""Who may read the lake through the browser, and with which S3 identity.

Two checks, both required: the Airflow auth manager must authorise the custom view `RESOURCE` for GET
(`is_authorized_custom_view`, the Airflow 3 API plugins use; a FAB deployment maps it to a permission a role
grants), and the user's role must be one of `RADIOLAKE_BUCKET_BROWSER_ROLES` (default `admin,op,user`). The
second check exists because the simple auth manager grants every custom view to every role, even `viewer`:
there, the allow-list is what makes reading the buckets a permission of a role.

The browser reads with its own S3 identity, `browser` (Read and List on the lake's buckets only): from
`RADIOLAKE_BROWSER_S3_ACCESS_KEY` / `RADIOLAKE_BROWSER_S3_SECRET_KEY`, else the embedded stack's state
directory. It never falls back to the pipeline's key, so the app cannot write even if its code tried.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from minio import Minio

from radiolake.config import ConfigError, Settings

#: The custom view the auth manager is asked about.
RESOURCE = "Lake buckets"
ROLES_ENV = "RADIOLAKE_BUCKET_BROWSER_ROLES"
DEFAULT_ROLES = ("admin", "op", "user")
ACCESS_KEY_ENV = "RADIOLAKE_BROWSER_S3_ACCESS_KEY"
SECRET_KEY_ENV = "RADIOLAKE_BROWSER_S3_SECRET_KEY"  # noqa: S105 - a variable's name, not a secret


class LoginRequired(Exception):
    """No valid Airflow login: a 401, or a redirect to the login page for a browser."""


class RoleRequired(Exception):
    """Logged in, but no role that grants reading the buckets: a 403."""


def allowed_roles(env: Mapping[str, str] | None = None) -> frozenset[str]:
    env = os.environ if env is None else env
    raw = env.get(ROLES_ENV)
    roles = DEFAULT_ROLES if raw is None else tuple(r for r in raw.split(",") if r.strip())
    return frozenset(r.strip().lower() for r in roles)


def user_roles(user: Any) -> set[str]:
    """The simple auth manager's user has one `role`; a FAB user has `roles` objects with a `name`."""
    if getattr(user, "role", None):
        return {str(user.role).lower()}
    return {str(getattr(r, "name", r)).lower() for r in getattr(user, "roles", None) or ()}


def may_read_buckets(user: Any, auth_manager: Any, roles: frozenset[str]) -> bool:
    if not user_roles(user) & roles:
        return False
    return bool(auth_manager.is_authorized_custom_view(method="GET", resource_name=RESOURCE, user=user))


def token_of(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str | None:
    """Bearer first (REST clients), then the UI's session cookie, as Airflow's own API does."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN

    header = headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else cookies.get(COOKIE_NAME_JWT_TOKEN)


async def require_reader(headers: Mapping[str, str], cookies: Mapping[str, str]) -> str:
    """The user's name if they are logged in and their role may read the buckets; raises otherwise."""
    from airflow.api_fastapi.app import get_auth_manager

    token = token_of(headers, cookies)
    if not token:
        raise LoginRequired
    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except Exception as exc:  # noqa: BLE001 - expired, forged, revoked: all mean "not logged in"
        raise LoginRequired from exc
    if not may_read_buckets(user, manager, allowed_roles()):
        raise RoleRequired(user.get_name())
    return user.get_name()


def _stored_secrets(settings: Settings) -> dict[str, str]:
    try:
        return json.loads((settings.home / "secrets.json").read_text())
    except FileNotFoundError:
        return {}


def browser_credentials(settings: Settings, env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """The browser's read-only key pair; a clear error when none is configured (never the pipeline's)."""
    env = os.environ if env is None else env
    stored = _stored_secrets(settings)
    access = env.get(ACCESS_KEY_ENV) or stored.get("s3_browser_access_key", "")
    secret = env.get(SECRET_KEY_ENV) or stored.get("s3_browser_secret_key", "")
    if not (access and secret):
        raise ConfigError(f"the bucket browser has no read-only S3 identity: set {ACCESS_KEY_ENV} and "
                          f"{SECRET_KEY_ENV} (embedded stack: `radiolake stack up` creates one)")
    if access == settings.s3_access_key:
        raise ConfigError(f"{ACCESS_KEY_ENV} is the pipeline's key: the browser needs its own read-only key")
    return access, secret


def browser_client(settings: Settings) -> Minio:
    access, secret = browser_credentials(settings)
    return Minio(settings.s3_hostport, access_key=access, secret_key=secret, secure=settings.s3_secure,
                 region=settings.s3_region)


def browser_arrow_fs(settings: Settings):
    """pyarrow's S3 filesystem with the browser's key (Parquet footers and small range reads)."""
    import pyarrow.fs as pafs

    access, secret = browser_credentials(settings)
    return pafs.S3FileSystem(access_key=access, secret_key=secret, endpoint_override=settings.s3_hostport,
                             scheme="https" if settings.s3_secure else "http", region=settings.s3_region)
