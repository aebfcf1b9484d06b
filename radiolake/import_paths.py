"""Which local files a run may read: only those inside the folders the operator allows.

A file parameter (an ingest's `path`, the pipeline's `radio_path`/`stars_path`, a `file://` URL) comes from
whoever can trigger a run. Without a check, any file the stack can read (its own secrets, /proc/self/environ)
would be copied into the lake. So every such path is resolved first (symlinks and `..` followed, relative
paths taken inside the imports folder) and refused unless the real file lies inside an allowed folder —
before anything is read or stored.

Allowed folders: `<state dir>/imports` (created on demand) and every folder in RADIOLAKE_IMPORT_DIRS
(separated by the OS path separator, ':' on Linux). Under docker compose the imports folder is a mounted
volume; see docs/docker-compose.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from radiolake.config import state_home

IMPORT_DIRS_ENV = "RADIOLAKE_IMPORT_DIRS"


class ImportPathError(ValueError):
    """A file parameter names a file outside the allowed folders (or none); the message lists them."""


def default_import_dir(env: Mapping[str, str] | None = None) -> Path:
    return state_home(dict(os.environ if env is None else env)) / "imports"


def allowed_import_dirs(env: Mapping[str, str] | None = None) -> list[Path]:
    """The folders file parameters may name, resolved: the state dir's imports folder, then the configured."""
    env = os.environ if env is None else env
    dirs = [default_import_dir(env)]
    for raw in env.get(IMPORT_DIRS_ENV, "").split(os.pathsep):
        if raw.strip():
            dirs.append(Path(raw.strip()).expanduser())
    out: list[Path] = []
    for d in dirs:
        real = Path(os.path.realpath(d))
        if real not in out:
            out.append(real)
    return out


def resolve_import_path(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Path:
    """The real path of an allowed, existing regular file; ImportPathError otherwise.

    `file://` URLs are taken as paths; relative paths are taken inside the default imports folder (the
    form's natural "my_catalogue.csv"). Nothing is opened here beyond the stat that resolving needs.
    """
    raw = os.fspath(path).strip()
    if raw.startswith("file://"):
        raw = raw[len("file://"):]
    if not raw:
        raise ImportPathError("empty file parameter")
    dirs = allowed_import_dirs(env)
    allowed = ", ".join(str(d) for d in dirs)
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = dirs[0] / candidate
    real = Path(os.path.realpath(candidate))
    if not any(real.is_relative_to(d) for d in dirs):
        raise ImportPathError(f"file {raw!r} is outside the folders allowed for imports ({allowed}); copy it "
                              f"into {dirs[0]} or add its folder to {IMPORT_DIRS_ENV}")
    if not real.is_file():
        raise ImportPathError(f"file {raw!r} not found in the folders allowed for imports ({allowed})")
    return real
