"""Run the dbt CLI (from its own virtual environment) against the warehouse, and say which node failed.

dbt lives in `<repo>/.venv-dbt` because its dependencies conflict with Airflow's (protobuf); it is run as a
subprocess, never imported. The connection comes from Settings.warehouse_dsn, split into the env vars that
dbt/profiles.yml reads, the password under dbt's DBT_ENV_SECRET_ prefix so dbt scrubs it from its logs.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from radiolake.config import ANALYST_ROLE, WAREHOUSE_ROLE, ConfigError, Settings, get_settings, repo_root
from radiolake.run_params import CHECK_RUNS_VAR
from radiolake.timeouts import pg_options, role_limits
from radiolake.warehouse.grants import grant_analyst

DBT_INSTALL_HINT = (
    'python3 -m venv .venv-dbt && .venv-dbt/bin/pip install "dbt-core>=1.11,<1.12" "dbt-postgres>=1.11,<1.12"'
)
_FAILED = {"error", "fail", "runtime error"}

#: Planner and memory settings of dbt's sessions (measured on a 1 M-pair run, benchmarks/warehouse.py).
#: dbt's statements are one-off bulk queries over whole runs: JIT compilation costs more than it saves
#: (0.5-6 s per statement, a few hundred statements per build); the runs are picked by `run_id =
#: any(array(...))` (partition pruning at execution time), for which the planner cannot estimate rows and
#: then sorts a million rows on text keys for merge joins, several times slower than hash joins.
DBT_SESSION_SETTINGS = {"work_mem": "256MB", "jit": "off", "enable_mergejoin": "off"}
#: Env var carrying the dbt var check_runs (the runs the data tests check) to dbt/macros/check_scope.sql.
CHECK_RUNS_ENV = "RADIOLAKE_DBT_CHECK_RUNS"


class DbtError(RuntimeError):
    """dbt failed; `failures` names each failing node (model/test) with its message."""

    def __init__(self, command: str, failures: list[str], output_tail: str = ""):
        self.command = command
        self.failures = failures
        detail = "\n  - ".join(failures) if failures else output_tail
        super().__init__(f"dbt {command} failed:\n  - {detail}")


@dataclass
class DbtResult:
    command: str
    returncode: int
    stdout: str
    target_path: Path
    results: list[dict] = field(default_factory=list)  # run_results.json "results"

    def statuses(self) -> dict[str, str]:
        """unique_id -> status (success, pass, error, fail, skipped, ...)."""
        return {r["unique_id"]: r["status"] for r in self.results}


def project_dir() -> Path:
    return repo_root() / "dbt"


def dbt_executable() -> Path:
    """RADIOLAKE_DBT_BIN, else `<repo>/.venv-dbt/bin/dbt`."""
    path = Path(os.environ.get("RADIOLAKE_DBT_BIN") or repo_root() / ".venv-dbt" / "bin" / "dbt")
    if not path.exists():
        raise ConfigError(f"dbt not found at {path}: set RADIOLAKE_DBT_BIN or, in {repo_root()}, run "
                          f"{DBT_INSTALL_HINT}")
    return path


def dbt_env(dsn: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the dbt subprocess: the profile's connection values from a libpq DSN."""
    parts = conninfo_to_dict(dsn)
    env = dict(os.environ if base is None else base)
    env.update({
        "RADIOLAKE_DBT_HOST": str(parts.get("host") or "127.0.0.1"),
        "RADIOLAKE_DBT_PORT": str(parts.get("port") or "5432"),
        "RADIOLAKE_DBT_USER": str(parts.get("user") or ""),
        "RADIOLAKE_DBT_DBNAME": str(parts.get("dbname") or ""),
        "DBT_ENV_SECRET_RADIOLAKE_PASSWORD": str(parts.get("password") or ""),
        "RADIOLAKE_ANALYST_ROLE": env.get("RADIOLAKE_ANALYST_ROLE", ANALYST_ROLE),
        # No internet here; and nothing about the user's warehouse should leave the machine anyway.
        # lock/statement/idle timeouts for dbt's sessions even where the role has none set (see timeouts.py)
        "PGOPTIONS": " ".join([pg_options(), *(f"-c {k}={v}" for k, v in DBT_SESSION_SETTINGS.items())]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_VERSION_CHECK": "false",
    })
    return env


def run_dbt(command: list[str], *, settings: Settings | None = None, dsn: str | None = None,
            vars: dict | None = None, work_dir: Path | None = None, timeout: float | None = None,
            check: bool = True) -> DbtResult:
    """Run `dbt <command>` on dbt/; target and logs go under `work_dir` (default: <state home>/dbt)."""
    settings = settings or get_settings()
    if not dsn:
        settings.require_warehouse()
        dsn = settings.warehouse_dsn
    work_dir = Path(work_dir or settings.home / "dbt")
    target_path = work_dir / "target"
    args = [str(dbt_executable()), *command, "--project-dir", str(project_dir()),
            "--profiles-dir", str(project_dir()), "--target-path", str(target_path),
            "--log-path", str(work_dir / "logs")]
    env = dbt_env(dsn)
    vars = dict(vars or {})
    # The runs the tests check change with every build: as an env var (read by dbt/macros/check_scope.sql)
    # they keep dbt's partial parsing, which any change of --vars throws away.
    env[CHECK_RUNS_ENV] = json.dumps(vars.pop(CHECK_RUNS_VAR, []))
    if vars:
        args += ["--vars", vars_text(vars)]
    work_dir.mkdir(parents=True, exist_ok=True)
    (target_path / "run_results.json").unlink(missing_ok=True)  # never read a previous run's results
    proc = subprocess.run(args, env=env, cwd=project_dir(), capture_output=True, text=True, timeout=timeout)
    results = _read_results(target_path / "run_results.json")
    result = DbtResult(" ".join(command), proc.returncode, proc.stdout + proc.stderr, target_path, results)
    if check and proc.returncode != 0:
        raise DbtError(result.command, failures(results), "\n".join(result.stdout.splitlines()[-15:]))
    return result


def _yaml_number(value: float) -> str:
    """A float as YAML 1.1 reads it back as a float: dbt parses --vars as YAML, where `1e-05` (no dot) is a
    string; `1.0e-05` is the number."""
    text = repr(float(value))
    if "e" in text and "." not in text.split("e")[0]:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def vars_text(vars: dict) -> str:
    """--vars for dbt: a JSON object whose numbers stay numbers once dbt reads it as YAML."""
    items = [f"{json.dumps(str(k))}: {_yaml_number(v) if isinstance(v, float) else json.dumps(v)}"
             for k, v in vars.items()]
    return "{" + ", ".join(items) + "}"


def _read_results(path: Path) -> list[dict]:
    try:
        return json.loads(path.read_text()).get("results", [])
    except FileNotFoundError:
        return []


def failures(results: list[dict]) -> list[str]:
    """'<resource>.<name>: <message>' for each failed node, e.g. 'model.radiolake.sky_summary: ...'."""
    out = []
    for r in results:
        if r.get("status") in _FAILED:
            message = " ".join(str(r.get("message") or "").split())
            out.append(f"{r['unique_id']} ({r['status']}): {message}")
    return out


def build(*, settings: Settings | None = None, dsn: str | None = None, vars: dict | None = None,
          select: str | None = None, work_dir: Path | None = None, timeout: float | None = None,
          full_refresh: bool = False) -> DbtResult:
    """`dbt build` (models + tests), with the analyst grants applied before (schema, defaults) and after.

    `select` is a dbt node selection (e.g. "staging"); default: the whole project. The marts are incremental
    (dbt/macros/incremental_runs.sql): a build computes only what changed since the last one;
    `full_refresh` recomputes every table from load.* (same rows; needed once after upgrading a warehouse
    whose marts were built before they were incremental, to get their new indexes).
    """
    settings = settings or get_settings()
    dsn = dsn or settings.warehouse_dsn
    if not dsn:
        settings.require_warehouse()
    with build_lock(dsn):
        grant_analyst(dsn)
        command = ["build", "--select", select] if select else ["build"]
        if full_refresh:
            command.append("--full-refresh")
        try:
            result = run_dbt(command, settings=settings, dsn=dsn, vars=vars, work_dir=work_dir, timeout=timeout)
        except DbtError as exc:
            if "lock timeout" in str(exc):
                raise DbtError("build", [*exc.failures, f"dbt waited {lock_timeout_text()} for a lock: "
                                         f"{describe_blockers(dsn)}"]) from exc
            raise
        grant_analyst(dsn)
    return result


@contextmanager
def build_lock(dsn: str, holder: str = "radiolake-dbt-lock", node: str | None = None) -> Iterator[None]:
    """Hold the warehouse's dbt lock while a whole build (CLI) or one dbt node (an Airflow task) runs.

    Two builds swapping the same mart tables would fail each other, whether from the DAGs, the CLI or tests.
    A whole build takes the lock exclusively. A node (`node` names its selection, e.g. "run stg_pairs")
    takes it shared, plus an exclusive lock of its own: nodes of two DAG runs may run side by side, the
    same node never twice at once, and never during a CLI build. Session advisory locks are released even
    if we are killed; waiting is bounded by the role's lock_timeout, after which the error names the holder.
    """
    with psycopg.connect(dsn, autocommit=True, application_name=holder, options=pg_options()) as lock:
        try:
            if node is None:
                lock.execute("SELECT pg_advisory_lock(hashtext('radiolake.warehouse.dbt'))")
            else:
                lock.execute("SELECT pg_advisory_lock_shared(hashtext('radiolake.warehouse.dbt'))")
                lock.execute("SELECT pg_advisory_lock(hashtext('radiolake.warehouse.dbt:' || %s))", (node,))
        except psycopg.errors.LockNotAvailable as exc:
            raise DbtError("build", [f"waited {lock_timeout_text()} for another dbt build of this warehouse "
                                     f"to finish (advisory lock radiolake.warehouse.dbt); "
                                     f"{describe_blockers(dsn, advisory=True)}"]) from exc
        yield


def lock_timeout_text() -> str:
    return f"more than {role_limits(WAREHOUSE_ROLE)['lock_timeout'] / 1000:g} s (lock_timeout)"


def describe_blockers(dsn: str, advisory: bool = False) -> str:
    """Who holds locks on the warehouse's dbt schemas (or the build's advisory lock), for an error message:
    pid, role, application, state and since when, e.g. an analyst's transaction left open on a mart."""
    where = ("l.locktype = 'advisory'" if advisory else
             "n.nspname IN ('marts', 'staging', 'intermediate', 'load')")
    query = f"""
        SELECT a.pid, a.usename, coalesce(nullif(a.application_name, ''), '?'), coalesce(a.state, '?'),
               a.xact_start, string_agg(DISTINCT coalesce(n.nspname || '.' || c.relname, l.locktype), ', ')
        FROM pg_locks l
        JOIN pg_stat_activity a ON a.pid = l.pid
        LEFT JOIN pg_class c ON c.oid = l.relation
        LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE l.granted AND a.pid <> pg_backend_pid() AND a.datname = current_database() AND {where}
        GROUP BY 1, 2, 3, 4, 5 ORDER BY a.xact_start NULLS LAST LIMIT 5"""
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            rows = conn.execute(query).fetchall()
    except psycopg.Error as exc:  # the message still says what timed out
        return f"could not list the lock holders ({exc.__class__.__name__})"
    if not rows:
        return "the lock holder has gone since"
    held = [f"session pid {pid} (role {user}, application {app}, {state}"
            f"{f', transaction open since {start:%Y-%m-%d %H:%M:%S %Z}' if start else ''}) holds {what}"
            for pid, user, app, state, start, what in rows]
    return "; ".join(held) + " — end that transaction (COMMIT/ROLLBACK, or pg_terminate_backend(pid))"


def docs_generate(*, settings: Settings | None = None, dsn: str | None = None,
                  work_dir: Path | None = None) -> Path:
    """`dbt docs generate`; returns the target folder holding index.html and catalog.json."""
    result = run_dbt(["docs", "generate"], settings=settings, dsn=dsn, work_dir=work_dir)
    return result.target_path
