"""Configuration: environment variables first, then the embedded stack's state directory.

The same code runs embedded (where `radiolake stack up` generated ports and secrets into the state
directory) and under docker compose (where every value arrives as a `RADIOLAKE_*` variable). No secret is
ever a literal in code: when neither source has one, the value is empty and the caller fails clearly.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

#: Bumped when the layout of the state directory changes incompatibly.
STATE_VERSION = 1

DEFAULT_BUCKETS = {"raw": "raw", "catalogs": "catalogs", "xmatch": "xmatch", "reports": "reports"}

#: Postgres databases and roles; the same names are declared in terraform/ and docker/postgres/.
WAREHOUSE_DB = "warehouse"
WAREHOUSE_ROLE = "radiolake"
AIRFLOW_DB = "airflow"
AIRFLOW_ROLE = "airflow"
ANALYST_ROLE = "analyst"

#: Written by `radiolake stack up --spark-workers N` (master URL, UI, workers), removed by `stack down`.
SPARK_CLUSTER_FILE = Path("spark") / "cluster.json"


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


def positive_env(name: str, default: float, *, integer: bool = False) -> float:
    """A positive finite number from the environment variable `name` (whole with `integer`), or `default`
    when it is unset or empty; anything else is a ConfigError naming the variable."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name}={raw!r} is not {'a whole number' if integer else 'a number'}") from exc
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{name}={raw!r} must be a finite number above 0")
    return value


#: How the DAGs run the dbt project (RADIOLAKE_DBT_EXECUTION_MODE): "watcher" runs one `dbt build` that
#: per-model tasks watch (Cosmos ExecutionMode.WATCHER); "local" starts dbt once per model task.
DBT_EXECUTION_MODES = ("watcher", "local")


def dbt_execution_mode(env: dict[str, str] | None = None) -> str:
    """RADIOLAKE_DBT_EXECUTION_MODE, lower-cased; "watcher" when unset or empty. Read wherever a DAG file is
    parsed (dag-processor, workers, dag.test), so every component of a deployment must see the same value;
    anything but a known mode is a ConfigError naming the variable and the modes."""
    raw = (os.environ if env is None else env).get("RADIOLAKE_DBT_EXECUTION_MODE", "").strip().lower()
    if not raw:
        return DBT_EXECUTION_MODES[0]
    if raw not in DBT_EXECUTION_MODES:
        raise ConfigError(f"RADIOLAKE_DBT_EXECUTION_MODE={raw!r} is not one of {', '.join(DBT_EXECUTION_MODES)}")
    return raw


def repo_root() -> Path:
    """The checkout this package lives in (dags/, dbt/, spark_jobs/ sit beside `radiolake/`)."""
    return Path(__file__).resolve().parent.parent


def state_home(env: dict[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    raw = env.get("RADIOLAKE_HOME", "").strip()
    return Path(raw).expanduser().resolve() if raw else repo_root() / ".radiolake"


def parse_port(name: str, value: str | None) -> int | None:
    """Parse a TCP port from an env var; None when unset. Port 0 is refused: pick one or leave unset."""
    if value is None or value.strip() == "":
        return None
    try:
        port = int(value.strip())
    except ValueError as exc:
        raise ConfigError(f"{name}={value!r} is not a port number") from exc
    if not 1 <= port <= 65535:
        raise ConfigError(f"{name}={port} is outside 1..65535")
    return port


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


@dataclass(frozen=True)
class Settings:
    """Everything a task, a job or the CLI needs to reach the lake, the warehouse and Spark."""

    home: Path
    s3_endpoint: str
    s3_access_key: str
    s3_secret_key: str = field(repr=False)  # never in a printed Settings (logs, tracebacks)
    s3_region: str = "us-east-1"
    buckets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_BUCKETS))
    warehouse_dsn: str = field(default="", repr=False)  # holds the loader's password
    #: RADIOLAKE_ANALYST_DSN: the read-only role on schema marts (what `radiolake export` reads with).
    analyst_dsn: str = field(default="", repr=False)
    spark_master: str = "local[*]"
    airflow_url: str = ""
    #: RADIOLAKE_SPARK_AUTH_SECRET: the shared secret of a cluster run with spark.authenticate (any master).
    spark_auth_secret: str = field(default="", repr=False)
    #: The embedded stack's own cluster, when it runs one: its master URL and generated secret.
    stack_spark_master: str = ""
    stack_spark_secret: str = field(default="", repr=False)
    stack_spark_cores: int = 0

    def spark_secret_for(self, master: str) -> str:
        """The spark.authenticate secret to use with `master` ("" for local mode or an open cluster)."""
        if not master.startswith("spark://"):
            return ""
        if self.spark_auth_secret:
            return self.spark_auth_secret
        return self.stack_spark_secret if master == self.stack_spark_master else ""

    @property
    def s3_secure(self) -> bool:
        return self.s3_endpoint.startswith("https://")

    @property
    def s3_hostport(self) -> str:
        """host:port, as the minio client wants it."""
        return self.s3_endpoint.split("://", 1)[-1].rstrip("/")

    def bucket(self, kind: str) -> str:
        try:
            return self.buckets[kind]
        except KeyError as exc:
            raise ConfigError(f"unknown bucket kind {kind!r}; known: {sorted(self.buckets)}") from exc

    def require_s3(self) -> None:
        if not (self.s3_endpoint and self.s3_access_key and self.s3_secret_key):
            raise ConfigError(
                "object store not configured: set RADIOLAKE_S3_ENDPOINT, RADIOLAKE_S3_ACCESS_KEY and "
                "RADIOLAKE_S3_SECRET_KEY, or run `radiolake stack up`"
            )

    def require_warehouse(self) -> None:
        if not self.warehouse_dsn:
            raise ConfigError("warehouse not configured: set RADIOLAKE_WAREHOUSE_DSN or run `radiolake stack up`")


def postgres_dsn(user: str, password: str, host: str, port: int, dbname: str) -> str:
    return f"postgresql://{quote(user)}:{quote(password, safe='')}@{host}:{port}/{dbname}"


def running_stack_spark_cluster(home: Path) -> dict:
    """The embedded stack's Spark cluster ({"master", "ui", "workers", "cores"}) if `stack up` started one that
    still runs, else {}."""
    cluster = _read_json(home / SPARK_CLUSTER_FILE)
    try:
        pid = int((home / "run" / "spark-master.pid").read_text().split()[0])
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except (FileNotFoundError, ValueError, IndexError, ProcessLookupError, PermissionError):
        return {}
    return cluster


def get_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ), filling gaps from the embedded state directory."""
    env = dict(os.environ if env is None else env)
    home = state_home(env)
    ports = _read_json(home / "ports.json")
    secrets = _read_json(home / "secrets.json")

    s3_port = parse_port("RADIOLAKE_S3_PORT", env.get("RADIOLAKE_S3_PORT")) or ports.get("s3")
    s3_endpoint = env.get("RADIOLAKE_S3_ENDPOINT") or (f"http://127.0.0.1:{s3_port}" if s3_port else "")

    warehouse_dsn = env.get("RADIOLAKE_WAREHOUSE_DSN", "")
    pg_port = parse_port("RADIOLAKE_PG_PORT", env.get("RADIOLAKE_PG_PORT")) or ports.get("postgres")
    if not warehouse_dsn and pg_port and secrets.get("warehouse_password"):
        warehouse_dsn = postgres_dsn(
            WAREHOUSE_ROLE, secrets["warehouse_password"], env.get("RADIOLAKE_PG_HOST", "127.0.0.1"),
            pg_port, WAREHOUSE_DB,
        )

    analyst_dsn = env.get("RADIOLAKE_ANALYST_DSN", "")
    if not analyst_dsn and pg_port and secrets.get("analyst_password"):
        analyst_dsn = postgres_dsn(ANALYST_ROLE, secrets["analyst_password"], env.get("RADIOLAKE_PG_HOST", "127.0.0.1"),
                                   pg_port, WAREHOUSE_DB)

    airflow_port = parse_port("RADIOLAKE_AIRFLOW_PORT", env.get("RADIOLAKE_AIRFLOW_PORT")) or ports.get("airflow")
    airflow_url = env.get("RADIOLAKE_AIRFLOW_URL") or (f"http://127.0.0.1:{airflow_port}" if airflow_port else "")

    buckets = {k: env.get(f"RADIOLAKE_BUCKET_{k.upper()}", v) for k, v in DEFAULT_BUCKETS.items()}
    stack_cluster = running_stack_spark_cluster(home)
    stack_master = str(stack_cluster.get("master", ""))
    return Settings(
        home=home,
        s3_endpoint=s3_endpoint.rstrip("/"),
        s3_access_key=env.get("RADIOLAKE_S3_ACCESS_KEY") or secrets.get("s3_access_key", ""),
        s3_secret_key=env.get("RADIOLAKE_S3_SECRET_KEY") or secrets.get("s3_secret_key", ""),
        s3_region=env.get("RADIOLAKE_S3_REGION", "us-east-1"),
        buckets=buckets,
        warehouse_dsn=warehouse_dsn,
        analyst_dsn=analyst_dsn,
        spark_master=env.get("RADIOLAKE_SPARK_MASTER") or stack_master or "local[*]",
        airflow_url=airflow_url,
        spark_auth_secret=env.get("RADIOLAKE_SPARK_AUTH_SECRET", ""),
        stack_spark_master=stack_master,
        stack_spark_secret=secrets.get("spark_auth_secret", "") if stack_master else "",
        stack_spark_cores=int(stack_cluster.get("cores", 0)),
    )
