"""A catalogue path in the stack's lake with nothing at it, for the integration tests that ingest into it."""

from __future__ import annotations

from typing import Any

from radiolake.ingest import catalog as cat
from radiolake.lake import arrow_fs, ensure_buckets


def fresh_catalogue(stack: Any, name: str) -> tuple[Any, Any, str, str]:
    """The stack's settings, its lake filesystem, and the catalogue `name` at its path, deleted if there."""
    settings = stack.settings
    ensure_buckets(settings)
    fs = arrow_fs(settings)
    base = f"{settings.bucket('catalogs')}/{name}"
    if cat.exists(fs, base):
        fs.delete_dir(base)
    return settings, fs, name, base
