"""Which local files a run may read: only those inside the folders the operator allows.

A file parameter (an ingest's `path`, the pipeline's `radio_path`/`stars_path`, a `file://` URL) comes from
whoever can trigger a run. Without a check, any file the stack can read (its own secrets, /proc/self/environ)
would be copied into the lake. So every such file is opened once (`open_import_file`: relative paths taken
inside the imports folder, a link as the last component refused, never blocking on a FIFO), the real path
of the opened descriptor is checked to lie inside an allowed folder and to be a regular file, and the
caller reads that descriptor. Checking a name and then opening it again was a race: between the two, a
local account able to write the imports folder could swap the name for a link to the stack's secrets.

Allowed folders: `<state dir>/imports` (created on demand) and every folder in RADIOLAKE_IMPORT_DIRS
(separated by the OS path separator, ':' on Linux). Under docker compose the imports folder is a mounted
volume; see docs/docker-compose.md.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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


@dataclass
class ImportFile:
    """An allowed import file, opened: read `file` (the descriptor that was checked), never `path` again."""

    path: Path  # the real path of the opened file, for messages
    relative: str  # its path inside the allowed folder: what provenance records (not the host's layout)
    file: BinaryIO

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> ImportFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __str__(self) -> str:
        return str(self.path)


def open_import_file(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> ImportFile:
    """Open an import file once and check what was opened; ImportPathError (naming the allowed folders)
    unless it is a regular file whose real path lies inside an allowed folder.

    `file://` URLs are taken as paths; relative paths are taken inside the default imports folder (the
    form's natural "my_catalogue.csv"). The last component must not be a link (O_NOFOLLOW); links in the
    folders above are allowed only if the opened file's real path (the descriptor's, from /proc/self/fd)
    is still inside an allowed folder. Opening does not block on a FIFO (O_NONBLOCK; it is then refused).
    """
    raw = os.fspath(path).strip()
    if raw.startswith("file://"):
        raw = raw[len("file://"):]
    if not raw:
        raise ImportPathError("empty file parameter")
    dirs = allowed_import_dirs(env)
    allowed = ", ".join(str(d) for d in dirs)
    outside = (f"file {raw!r} is outside the folders allowed for imports ({allowed}); copy it into {dirs[0]} "
               f"or add its folder to {IMPORT_DIRS_ENV}")
    candidate = Path(raw).expanduser()
    if not candidate.is_absolute():
        candidate = dirs[0] / candidate
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(candidate, flags)
    except OSError as exc:
        lexical = Path(os.path.normpath(candidate))
        if not any(lexical.is_relative_to(d) for d in dirs):
            raise ImportPathError(outside) from exc
        if exc.errno == errno.ELOOP:
            raise ImportPathError(f"file {raw!r} is a symbolic link: import files are opened without following "
                                  f"links (one may point outside the folders allowed for imports, {allowed}); "
                                  f"copy the file itself into {dirs[0]}") from exc
        raise ImportPathError(f"file {raw!r} not found in the folders allowed for imports ({allowed}): "
                              f"{exc.strerror}") from exc
    try:
        real = Path(os.readlink(f"/proc/self/fd/{fd}"))
        home = next((d for d in dirs if real.is_relative_to(d)), None)
        if home is None:
            raise ImportPathError(outside)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ImportPathError(f"file {raw!r} is not a regular file (in the folders allowed for imports, "
                                  f"{allowed})")
        os.set_blocking(fd, True)
        return ImportFile(path=real, relative=real.relative_to(home).as_posix(), file=os.fdopen(fd, "rb"))
    except BaseException:
        os.close(fd)
        raise


def resolve_import_path(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Path:
    """The real path of an allowed regular file (ImportPathError otherwise), for messages only: a reader
    must use `open_import_file` and read its descriptor, since the name may change after this returns."""
    with open_import_file(path, env) as opened:
        return opened.path
