"""Retention: how many loaded runs the warehouse keeps, and dropping the others cleanly.

Every run ever loaded stays side by side unless a policy says otherwise (the default keeps everything):

- `RADIOLAKE_RETENTION_RUNS=N` keeps the newest N runs of each radio x stellar catalogue combination (newest
  as the marts decide it: created, then loaded, then run id);
- `RADIOLAKE_RETENTION_DAYS=D` drops runs created (or, without a creation time, loaded) more than D days ago;
- `RADIOLAKE_RETENTION_KEEP_RUNS=run1,run2` pins runs: never dropped whatever the policy.

The newest run of each combination (the one the star catalogue and `is_latest_run` use) is never dropped.
A run is dropped whole, in one transaction under the loader's lock: its partitions of every load.* table
(a DROP, not a DELETE) and its load.runs row. The next dbt build removes its rows from the marts (the
incremental models delete rows of runs gone from load.runs, and recompute the stars they touched), so no
mart row is left pointing at a run that is not in load.* once the marts are built.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from radiolake.config import ConfigError
from radiolake.warehouse.partitions import drop_run_partitions
from radiolake.warehouse.tables import LOAD_TABLES


@dataclass(frozen=True)
class RetentionPolicy:
    """Which runs to keep; the defaults keep every run."""

    keep_runs: int | None = None  # newest runs kept per radio x star catalogue combination
    keep_days: float | None = None  # runs newer than this many days kept
    pinned: frozenset[str] = frozenset()  # run ids never dropped

    @property
    def keeps_everything(self) -> bool:
        return self.keep_runs is None and self.keep_days is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetentionPolicy:
        """The policy from RADIOLAKE_RETENTION_*; ConfigError naming the variable for a bad value."""
        env = os.environ if env is None else env
        runs = _number(env, "RADIOLAKE_RETENTION_RUNS", integer=True, minimum=1)
        days = _number(env, "RADIOLAKE_RETENTION_DAYS", integer=False, minimum=0)
        pinned = frozenset(r.strip() for r in env.get("RADIOLAKE_RETENTION_KEEP_RUNS", "").split(",") if r.strip())
        return cls(keep_runs=int(runs) if runs is not None else None, keep_days=days, pinned=pinned)


def _number(env: Mapping[str, str], name: str, *, integer: bool, minimum: float) -> float | None:
    text = env.get(name, "").strip()
    if not text or text.lower() in {"all", "none"}:
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError as exc:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}={text!r}: must be {kind} (unset or 'all' keeps every run)") from exc
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name}={text!r}: must be at least {minimum:g} (unset or 'all' keeps every run)")
    return value


#: The runs a policy drops. Ranked like stg_runs.is_latest_run, so rank 1 (the newest) is always kept, and
#: so is a run still the newest somewhere in its footprint (issue 22: a region's run stays while no single
#: newer run of its catalogues covers all of it; footprints as dbt's stg_run_footprints reads them).
RUNS_TO_DROP = """
    with ranked as (
        select run_id, radio_catalog, star_catalog,
               coalesce(created_utc, loaded_at) as made,
               row_number() over (partition by radio_catalog, star_catalog
                                  order by created_utc desc nulls last, loaded_at desc, run_id desc) as newest
        from load.runs
    ),
    footprints as (
        select r.run_id, (f.range ->> 0)::bigint as lo, (f.range ->> 1)::bigint as hi
        from load.runs as r
        cross join lateral jsonb_array_elements(
            case when jsonb_typeof(r.run_json -> 'footprint' -> 'ranges') = 'array'
                 then r.run_json -> 'footprint' -> 'ranges' else '[[0, 3458764513820540928]]'::jsonb end
        ) as f (range)
    )
    select run_id from ranked
    where newest > 1
      and exists (
          select 1 from ranked as newer
          where newer.radio_catalog is not distinct from ranked.radio_catalog
            and newer.star_catalog is not distinct from ranked.star_catalog and newer.newest < ranked.newest
            and not exists (
                select 1 from footprints as f where f.run_id = ranked.run_id and not exists (
                    select 1 from footprints as g where g.run_id = newer.run_id and g.lo <= f.lo and f.hi <= g.hi)))
      and run_id <> all(%(pinned)s::text[])
      and ((%(keep_runs)s::int is not null and newest > %(keep_runs)s::int)
           or (%(keep_days)s::float8 is not null
               and made < now() - make_interval(secs => %(keep_days)s::float8 * 86400)))
    order by run_id
"""


def runs_to_drop(cur: psycopg.Cursor, policy: RetentionPolicy) -> list[str]:
    if policy.keeps_everything:
        return []
    cur.execute(RUNS_TO_DROP, {"pinned": sorted(policy.pinned), "keep_runs": policy.keep_runs,
                               "keep_days": policy.keep_days})
    return [r[0] for r in cur.fetchall()]


def drop_run(cur: psycopg.Cursor, run_id: str) -> None:
    """Drop a run's partitions of every load table and its load.runs row (caller holds the load lock)."""
    for table in LOAD_TABLES:
        drop_run_partitions(cur, table.name, run_id)
    cur.execute("DELETE FROM load.runs WHERE run_id = %s", (run_id,))


def apply_retention(cur: psycopg.Cursor, policy: RetentionPolicy) -> list[str]:
    """Drop the runs `policy` does not keep, inside the caller's transaction; returns their ids."""
    dropped = runs_to_drop(cur, policy)
    for run_id in dropped:
        drop_run(cur, run_id)
    return dropped
