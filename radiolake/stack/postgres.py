"""PostgreSQL for the embedded stack: the warehouse database and Airflow's metadata database.

initdb into the state directory; TCP on 127.0.0.1 only (no Unix socket, so several stacks never collide);
scram passwords generated into the state directory. PostgreSQL refuses to run as root, so when we are root
the server runs as the unprivileged `postgres` user (or a `radiolake` system user we create).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from radiolake.config import (
    AIRFLOW_DB,
    AIRFLOW_ROLE,
    ANALYST_ROLE,
    WAREHOUSE_DB,
    WAREHOUSE_ROLE,
    postgres_dsn,
)
from radiolake.stack.errors import StackError, tail
from radiolake.stack.pg_access import lock_down
from radiolake.stack.ports import HOST, is_port_free
from radiolake.stack.state import UMASK, StateDir, write_private
from radiolake.timeouts import role_limits

SERVICE = "postgres"
SUPERUSER = "postgres"


def find_bin_dir() -> Path:
    """Directory holding initdb/pg_ctl: RADIOLAKE_PG_BIN, else the newest Debian layout, else PATH."""
    if configured := os.environ.get("RADIOLAKE_PG_BIN"):
        return Path(configured)
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    if found := shutil.which("pg_ctl"):
        return Path(found).parent
    raise StackError(SERVICE, "PostgreSQL server binaries not found (apt-get install postgresql, or set "
                     "RADIOLAKE_PG_BIN to the folder holding pg_ctl)")


def server_user() -> str | None:
    """The OS user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "radiolake"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "radiolake"],
                   check=True, capture_output=True)
    return "radiolake"


def traverse_gid() -> int | None:
    """The group that may pass through the state directory to the server's files: the server account's own
    group when that account is not ours (we are root), else None (the state directory stays 0700)."""
    user = server_user()
    return pwd.getpwnam(user).pw_gid if user else None


@dataclass
class Postgres:
    state: StateDir
    port: int
    secrets: dict[str, str]

    @property
    def root(self) -> Path:
        return self.state.root / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        return self.state.log_file(SERVICE)

    def dsn(self, role: str = SUPERUSER, dbname: str = "postgres") -> str:
        password = {
            SUPERUSER: self.secrets["postgres_password"], WAREHOUSE_ROLE: self.secrets["warehouse_password"],
            AIRFLOW_ROLE: self.secrets["airflow_db_password"], ANALYST_ROLE: self.secrets["analyst_password"],
        }[role]
        return postgres_dsn(role, password, HOST, self.port, dbname)

    # --- running commands as the server's user ------------------------------------------------------------
    def _run(self, args: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
        user = server_user()
        argv = ["runuser", "-u", user, "--", *args] if user else args
        try:
            result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, umask=UMASK)
        except subprocess.TimeoutExpired as exc:
            raise StackError(SERVICE, f"{what} timed out after {timeout:.0f} s", self.log_file,
                             tail(self.log_file)) from exc
        return result

    def _own(self, *paths: Path) -> None:
        user = server_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        for path in paths:
            os.chown(path, entry.pw_uid, entry.pw_gid)
            if path.is_dir():
                for sub in path.rglob("*"):
                    os.chown(sub, entry.pw_uid, entry.pw_gid)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def initdb(self) -> None:
        if (gid := traverse_gid()) is not None:  # the server's account passes through the private state dir
            self.state.grant_traverse(gid)
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.root.chmod(0o700)
        pwfile = self.root / "pwfile"
        write_private(pwfile, self.secrets["postgres_password"] + "\n")
        self.log_file.touch(mode=0o600)
        self.log_file.chmod(0o600)
        self._own(self.root, self.log_file)
        user = server_user()
        if user and self._run(["test", "-w", str(self.root)], 10, "access check").returncode != 0:
            raise StackError(SERVICE, f"user {user!r} cannot write {self.root}: a parent folder is not "
                             "traversable by it; choose RADIOLAKE_HOME on a path it can reach", self.log_file)
        result = self._run(
            [str(find_bin_dir() / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-E", "UTF8",
             "--locale=C", "--auth=scram-sha-256", f"--pwfile={pwfile}"], 120, "initdb")
        pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise StackError(SERVICE, f"initdb failed:\n{result.stdout}\n{result.stderr}", self.log_file)
        (self.data_dir / "pg_hba.conf").write_text(
            "# radiolake: TCP on loopback only, passwords always\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\ninclude_if_exists = 'radiolake.conf'\n")
        self._own(self.data_dir)

    def _write_runtime_conf(self) -> None:
        write_private(
            self.data_dir / "radiolake.conf",
            f"listen_addresses = '{HOST}'\n"
            f"port = {self.port}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "shared_buffers = '256MB'\n"
            "password_encryption = 'scram-sha-256'\n"
            # Warehouse load: a single node without replicas, so the WAL only needs crash recovery. With
            # wal_level minimal, tables created and COPYed in the same transaction (every load) skip WAL and
            # are synced at commit instead (README "Warehouse ... speed").
            "wal_level = 'minimal'\n"
            "max_wal_senders = 0\n"
        )
        self._own(self.data_dir / "radiolake.conf")

    def running(self) -> bool:
        result = self._run([str(find_bin_dir() / "pg_ctl"), "status", "-D", str(self.data_dir)], 10, "status")
        return result.returncode == 0

    def start(self) -> None:
        self.initdb()
        if self.running():
            return
        if not is_port_free(self.port):
            raise StackError(SERVICE, f"port {self.port} on {HOST} is in use by another process; free it or "
                             "set RADIOLAKE_PG_PORT to another port", self.log_file)
        self._write_runtime_conf()
        result = self._run(
            [str(find_bin_dir() / "pg_ctl"), "start", "-D", str(self.data_dir), "-l", str(self.log_file),
             "-w", "-t", "30"], 45, "start")
        if result.returncode != 0:
            raise StackError(SERVICE, f"pg_ctl start failed: {result.stdout.strip()} {result.stderr.strip()}",
                             self.log_file, tail(self.log_file))
        self.bootstrap()

    def bootstrap(self) -> None:
        """Roles and databases; idempotent, and passwords re-synced with the state directory."""
        roles = {WAREHOUSE_ROLE: "warehouse_password", AIRFLOW_ROLE: "airflow_db_password",
                 ANALYST_ROLE: "analyst_password"}
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=10) as conn:
            for role, secret in roles.items():
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                    verb, sql.Identifier(role), sql.Literal(self.secrets[secret])))
            # Timeouts per role: a session left open in a transaction cannot stall later builds forever.
            for role in (WAREHOUSE_ROLE, ANALYST_ROLE):
                for setting, ms in role_limits(role).items():
                    conn.execute(sql.SQL("ALTER ROLE {} SET {} = {}").format(
                        sql.Identifier(role), sql.Identifier(setting), sql.Literal(f"{ms}ms")))
            for db, owner in ((WAREHOUSE_DB, WAREHOUSE_ROLE), (AIRFLOW_DB, AIRFLOW_ROLE)):
                if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(db), sql.Identifier(owner)))
                # Only the owner (and, for the warehouse, the analyst) may connect.
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(db)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(WAREHOUSE_DB), sql.Identifier(ANALYST_ROLE)))
        with psycopg.connect(self.dsn(dbname=WAREHOUSE_DB), autocommit=True, connect_timeout=10) as conn:
            # PG15 no longer lets PUBLIC create in `public`; also keep the analyst from reading it.
            conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
            conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(sql.Identifier(WAREHOUSE_ROLE)))
        # Only the pipeline roles may take advisory locks (the pipeline's locks), in every database; PUBLIC
        # may not connect to `postgres` or `template1`.
        lock_down(lambda db: self.dsn(dbname=db))

    def stop(self) -> None:
        if not (self.data_dir / "PG_VERSION").exists() or not self.running():
            return
        result = self._run([str(find_bin_dir() / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast",
                            "-w", "-t", "30"], 45, "stop")
        if result.returncode != 0:
            raise StackError(SERVICE, f"pg_ctl stop failed: {result.stderr.strip()}", self.log_file)

    def healthy(self) -> bool:
        try:
            with psycopg.connect(self.dsn(WAREHOUSE_ROLE, WAREHOUSE_DB), connect_timeout=3) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def restarted_at(self) -> float:
        """When the server last started or crash-restarted (seconds since the epoch): a client connected
        before then has lost its connections. After a backend crash the server ends every session and
        recovers without a new start time; its shared statistics are reset then, so their reset time
        says when (PostgreSQL 15+)."""
        with psycopg.connect(self.dsn(), connect_timeout=10) as conn:
            return conn.execute("SELECT greatest(pg_postmaster_start_time(), "
                                "(SELECT stats_reset FROM pg_stat_archiver))").fetchone()[0].timestamp()
