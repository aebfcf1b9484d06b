"""The state directory: every byte the embedded stack keeps (data, logs, pids, ports, secrets) lives here.

Ports are chosen once (configured via env, else free ones) and persisted, so DSNs and URLs stay stable across
`down`/`up`. Secrets are generated on first `up` into a 0600 file; nothing secret is ever in code.

The directory holds the lake's objects, the warehouse's files, logs and keys, so it is private to the account
that runs the stack: 0700, every file 0600 (the services run with umask 077, files written here are created
private, and `prepare` tightens whatever an older version left looser). One exception: run as root,
PostgreSQL runs as its own unprivileged account, which must pass through this folder and `logs/` to reach
its data directory and its log; those two folders then carry the search bit (x, never r or w) for that
account's group only (`prepare(traverse_gid=...)`).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import string
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from radiolake.config import STATE_VERSION, Settings, get_settings, parse_port, state_home
from radiolake.stack.errors import StackError
from radiolake.stack.ports import free_port

#: What radiolake keeps in a state directory besides the stack's layout: the cross-match engine's folder
#: (crossmatch.engine_client.ENGINE_DIR), made by `radiolake engine start` even where no stack ran yet.
NOT_THE_STACKS = ("engine",)

#: Every port the stack needs, with the env var that pins it. Other ports are internal and always free ones.
PORT_ENV = {
    "postgres": "RADIOLAKE_PG_PORT",
    "s3": "RADIOLAKE_S3_PORT",
    "airflow": "RADIOLAKE_AIRFLOW_PORT",
    "spark_master": "RADIOLAKE_SPARK_MASTER_PORT",
    "spark_master_ui": "RADIOLAKE_SPARK_UI_PORT",
}
INTERNAL_PORTS = (
    "s3_grpc", "s3_master", "s3_master_grpc", "s3_volume", "s3_volume_grpc", "s3_filer", "s3_filer_grpc",
    "s3_lance", "airflow_worker_logs", "airflow_trigger_logs",
)

SECRET_NAMES = (
    "postgres_password", "warehouse_password", "airflow_db_password", "analyst_password",
    "s3_access_key", "s3_secret_key", "airflow_admin_password", "airflow_jwt_secret", "airflow_secret_key",
    "airflow_fernet_key", "spark_auth_secret", "s3_admin_access_key", "s3_admin_secret_key", "seaweedfs_jwt_write_key",
    "seaweedfs_jwt_read_key", "seaweedfs_filer_jwt_write_key", "seaweedfs_filer_jwt_read_key",
    "s3_browser_access_key", "s3_browser_secret_key", "airflow_viewer_password",
)


#: Services the stack starts create files private to its account (0600, folders 0700).
UMASK = 0o077


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only this account may read (0600 from its creation, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)


def append_private(path: Path) -> BinaryIO:
    """Open a log for appending; created 0600, and made 0600 if an older version left it looser."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def _search_only_for(folder: Path, gid: int) -> None:
    """Mode 0710 with group `gid`: that group may pass through `folder`, not list or change it."""
    info = folder.lstat()
    if info.st_gid != gid:
        os.chown(folder, -1, gid)
    mode = stat.S_IMODE(info.st_mode)
    if mode != (mode & 0o700) | 0o010:
        folder.chmod((mode & 0o700) | 0o010)


def tighten(root: Path, traversable: dict[Path, int]) -> None:
    """Strip every group/other bit under `root` (links are not followed); the folders in `traversable` get
    mode 0710 with the given group instead: search only, for that group only."""
    for entry in [root, *root.rglob("*")]:
        try:
            info = entry.lstat()
        except FileNotFoundError:  # removed meanwhile by a running service
            continue
        if stat.S_ISLNK(info.st_mode):
            continue
        if entry in traversable:
            _search_only_for(entry, traversable[entry])
        elif (mode := stat.S_IMODE(info.st_mode)) & 0o077:
            entry.chmod(mode & 0o700)


def _token(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


@dataclass
class StateDir:
    root: Path

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StateDir:
        return cls(state_home(env))

    # --- layout -------------------------------------------------------------------------------------------
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def log_file(self, service: str) -> Path:
        return self.logs / f"{service}.log"

    def pid_file(self, service: str) -> Path:
        return self.run / f"{service}.pid"

    @property
    def meta_file(self) -> Path:
        return self.root / "state.json"

    @property
    def ports_file(self) -> Path:
        return self.root / "ports.json"

    @property
    def secrets_file(self) -> Path:
        return self.root / "secrets.json"

    def settings(self) -> Settings:
        """Settings pointing at this stack only: the caller's RADIOLAKE_* variables are not consulted."""
        return get_settings({"RADIOLAKE_HOME": str(self.root)})

    # --- lifecycle ----------------------------------------------------------------------------------------
    def prepare(self, traverse_gid: int | None = None) -> None:
        """Create the layout, or check that an existing one is of this version; make it all private.

        `traverse_gid`: the group of the account PostgreSQL runs as when that is not ours (see the module
        docstring); it alone may pass through the state directory and `logs/`.
        """
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.check_version()
        if not self.meta_file.exists():
            write_private(self.meta_file, json.dumps({"version": STATE_VERSION}) + "\n")
        self.logs.mkdir(exist_ok=True, mode=0o700)
        self.run.mkdir(exist_ok=True, mode=0o700)
        traversable = {} if traverse_gid is None else {self.root: traverse_gid, self.logs: traverse_gid}
        tighten(self.root, traversable)

    def grant_traverse(self, gid: int) -> None:
        """Let group `gid` (PostgreSQL's account's when that is not ours) pass through to its data and log."""
        for folder in (self.root, self.logs):
            _search_only_for(folder, gid)

    def check_version(self) -> None:
        if not self.meta_file.exists():
            # the cross-match engine (`radiolake engine start`) may run before any stack: its folder is ours
            leftovers = sorted(p.name for p in self.root.iterdir() if p.name not in NOT_THE_STACKS
                               ) if self.root.exists() else []
            if leftovers:
                raise StackError(
                    "state", f"{self.root} holds {leftovers[:5]} but no state.json: not a radiolake state "
                    "directory (or one from before versioning). Move it away or set RADIOLAKE_HOME elsewhere.")
            return
        try:
            version = json.loads(self.meta_file.read_text()).get("version")
        except (json.JSONDecodeError, AttributeError) as exc:
            raise StackError("state", f"{self.meta_file} is not valid JSON: {exc}") from exc
        if version != STATE_VERSION:
            raise StackError(
                "state", f"{self.root} was made by state version {version}, this radiolake uses "
                f"{STATE_VERSION}. Export what you need, then move it away (or `radiolake stack reset`).")

    def ports(self, env: dict[str, str] | None = None) -> dict[str, int]:
        """Persisted ports, with env pins applied and missing ones filled with free ports."""
        env = os.environ if env is None else env
        stored: dict[str, int] = json.loads(self.ports_file.read_text()) if self.ports_file.exists() else {}
        ports = dict(stored)
        for name, var in PORT_ENV.items():
            pinned = parse_port(var, env.get(var))
            if pinned is not None:
                ports[name] = pinned
        for name in (*PORT_ENV, *INTERNAL_PORTS):
            if name not in ports:
                ports[name] = free_port(exclude=set(ports.values()))
        if ports != stored:
            write_private(self.ports_file, json.dumps(ports, indent=2) + "\n")
        return ports

    def extra_ports(self, names: list[str]) -> dict[str, int]:
        """All persisted ports, plus free ones for `names` not chosen yet (e.g. one per Spark worker)."""
        ports: dict[str, int] = json.loads(self.ports_file.read_text()) if self.ports_file.exists() else {}
        missing = [n for n in names if n not in ports]
        for name in missing:
            ports[name] = free_port(exclude=set(ports.values()))
        if missing:
            write_private(self.ports_file, json.dumps(ports, indent=2) + "\n")
        return ports

    def repick_ports(self, names: list[str]) -> dict[str, int]:
        """All persisted ports, with new free ones for `names` (ports chosen earlier that another process
        took before their lazily started service bound them: an outgoing connection's ephemeral port)."""
        ports: dict[str, int] = json.loads(self.ports_file.read_text()) if self.ports_file.exists() else {}
        for name in names:
            ports[name] = free_port(exclude=set(ports.values()))
        write_private(self.ports_file, json.dumps(ports, indent=2) + "\n")
        return ports

    def secrets(self) -> dict[str, str]:
        """Generated once, kept 0600; new names (after an upgrade) are added without touching old ones."""
        stored: dict[str, str] = json.loads(self.secrets_file.read_text()) if self.secrets_file.exists() else {}
        values = dict(stored)
        for name in SECRET_NAMES:
            if name not in values:
                if name == "airflow_fernet_key":
                    values[name] = _fernet_key()
                elif name in ("s3_access_key", "s3_admin_access_key", "s3_browser_access_key"):
                    values[name] = "RL" + _token(18, string.ascii_uppercase + string.digits)
                else:
                    values[name] = _token(32)
        if values != stored:
            write_private(self.secrets_file, json.dumps(values, indent=2) + "\n")
        return values
