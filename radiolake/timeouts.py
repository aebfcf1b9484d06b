"""Time limits: how long a task may run, and how long a warehouse statement may wait or hold a transaction.

Without limits a stuck step (a hung TAP server, a dbt build waiting on an analyst's open transaction) waits
forever and blocks every later run. The defaults are far above what a real run takes on this project's
data (the largest steps take minutes; the limits are hours), so only a stuck task ever hits them. Each is
configurable by environment variable, read when a DAG file is parsed (tasks) or a session starts (SQL).
"""

from __future__ import annotations

from datetime import timedelta

from radiolake.config import ANALYST_ROLE, WAREHOUSE_ROLE, positive_env

#: Default execution_timeout per pipeline step, in minutes (RADIOLAKE_TIMEOUT_<STEP>_MINUTES overrides).
TASK_MINUTES = {
    "ingest": 12 * 60,  # a full-sky TAP download of a large catalogue, paged, with retries
    "crossmatch": 12 * 60,
    "load": 2 * 60,
    "dbt": 2 * 60,
    "report": 60,
    "smoke": 30,
}


def task_timeout(step: str) -> timedelta:
    """The Airflow `execution_timeout` for a task of `step` (a key of TASK_MINUTES)."""
    return timedelta(minutes=positive_env(f"RADIOLAKE_TIMEOUT_{step.upper()}_MINUTES", TASK_MINUTES[step]))


#: Postgres limits per warehouse role, in milliseconds (RADIOLAKE_PG_<SETTING> overrides for every role):
#: `lock_timeout` is what turns "dbt waits forever on an analyst's open transaction" into a clear error.
ROLE_LIMITS_MS = {
    # the analyst queries marts by hand: long queries are fine, idle open transactions are not, and an idle
    # session ends (it holds a connection slot; the pipeline's locks are closed to it, see stack/pg_access.py)
    ANALYST_ROLE: {"statement_timeout": 30 * 60_000, "lock_timeout": 60_000,
                "idle_in_transaction_session_timeout": 10 * 60_000, "idle_session_timeout": 60 * 60_000},
    # no idle_session_timeout here: the pipeline holds its session locks on connections that sit idle while
    # dbt or an ingest runs
    # the owner/loader and dbt: a COPY of a big run or a mart build takes minutes, never hours
    WAREHOUSE_ROLE: {"statement_timeout": 2 * 3600_000, "lock_timeout": 5 * 60_000,
                  "idle_in_transaction_session_timeout": 30 * 60_000},
}


def role_limits(role: str) -> dict[str, int]:
    """Postgres settings (ms) for a role, with RADIOLAKE_PG_LOCK_TIMEOUT_MS etc. overriding the defaults."""
    out = {}
    for setting, default in ROLE_LIMITS_MS[role].items():
        out[setting] = int(positive_env(f"RADIOLAKE_PG_{setting.upper()}_MS", default))
    return out


def pg_options(role: str = WAREHOUSE_ROLE) -> str:
    """The same limits as libpq PGOPTIONS, for sessions (dbt's) whose role may lack them (compose, terraform)."""
    return " ".join(f"-c {setting}={ms}" for setting, ms in role_limits(role).items())
