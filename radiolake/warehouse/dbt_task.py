"""`radiolake-dbt`: the dbt executable the Airflow dbt tasks (Astronomer Cosmos) run.

Under the watcher mode (the default) Cosmos runs `<dbt executable> source freshness` then `... build
--log-format json` once per DAG run, and `... run|test --select <model>` when a model's task is retried or
cleared; under the local mode `run --select <model>` for each model task and `test --select <model>` after
it. This thin front puts back around each call what `dbt_runner.build` gives the command-line path:

- the connection comes from Settings.warehouse_dsn, split into the env vars dbt/profiles.yml reads (the
  password under dbt's DBT_ENV_SECRET_ prefix), set here in dbt's own environment only: it never appears in
  an Airflow task's arguments, rendered templates or the UI;
- PGOPTIONS carries the warehouse role's statement/lock/idle timeouts;
- the warehouse's dbt advisory lock is held (shared) while dbt runs, with an exclusive lock on the node, so
  a CLI `radiolake marts` and the DAGs' dbt nodes never swap the same mart tables at once, nor do two DAG
  runs build the same model together (a wait longer than lock_timeout names who holds it);
- the analyst grants are applied before and after every command that writes relations.

Commands that only read the project (ls, parse, compile, deps, debug) run dbt as is. The exit code is dbt's.
"""

from __future__ import annotations

import subprocess
import sys

from radiolake.config import get_settings
from radiolake.warehouse.dbt_runner import DbtError, build_lock, dbt_env, dbt_executable
from radiolake.warehouse.grants import grant_analyst

#: dbt commands that create or replace relations (the grants follow them) or read the marts under test.
WRITES = frozenset({"run", "build", "seed", "snapshot"})
LOCKED = WRITES | {"test"}


def dbt_command(args: list[str]) -> str | None:
    """The dbt subcommand in `args` (the first word that is not a flag), e.g. 'run'."""
    return next((a for a in args if not a.startswith("-")), None)


def node_selection(args: list[str]) -> str:
    """'<command> <selection>' of a Cosmos call, e.g. 'run stg_pairs': the node's own lock key."""
    selected = [args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--select", "-s", "--models", "-m")]
    return " ".join([dbt_command(args) or "", *selected])


def run(args: list[str]) -> int:
    """Run the real dbt with `args`; returns its exit code."""
    settings = get_settings()
    command = dbt_command(args)
    real = [str(dbt_executable()), *args]
    if command not in LOCKED:
        return subprocess.call(real, env=dbt_env(settings.warehouse_dsn))
    settings.require_warehouse()
    dsn = settings.warehouse_dsn
    with build_lock(dsn, holder=f"radiolake-dbt-{command}", node=node_selection(args)):
        if command in WRITES:
            grant_analyst(dsn)
        code = subprocess.call(real, env=dbt_env(dsn))
        if code == 0 and command in WRITES:
            grant_analyst(dsn)
    return code


def main() -> None:
    try:
        sys.exit(run(sys.argv[1:]))
    except DbtError as exc:
        print(f"radiolake-dbt: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
