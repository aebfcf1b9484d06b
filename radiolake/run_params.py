"""Run parameters: one declaration of every value a DAG run or the CLI may set, typed and bounded.

A run's `conf` comes from whoever can trigger a DAG. Airflow validates declared Params (JSON schema), but a
key that no Param declares passes through untouched, and dbt renders `--vars` straight into SQL. So the
candidate cuts are declared once here, the DAGs build their Params from this declaration, and the values
are checked again in Python (finite numbers within bounds) before they reach dbt as JSON numbers; the dbt
macro `num_var` refuses anything that is not a number as a third line of defence.

Conf keys that no Param declares are ignored with a warning naming them (Airflow 3 accepts them at trigger
time; nothing downstream reads them).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


class RunParamError(ValueError):
    """A run parameter has the wrong type or is out of bounds; the message names it and what is allowed."""


@dataclass(frozen=True)
class NumberParam:
    """A numeric run parameter: JSON-schema bounds and a description (the default lives in dbt_project.yml)."""

    name: str
    description: str
    minimum: float | None = 0.0
    maximum: float | None = None

    def schema(self) -> dict[str, Any]:
        """JSON-schema keywords for an Airflow `Param` (null-able: empty means "the project's default")."""
        out: dict[str, Any] = {"type": ["null", "number"]}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out

    def check(self, value: Any) -> float | int:
        """The value as a finite number within bounds; RunParamError otherwise (strings are never parsed)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RunParamError(f"run parameter {self.name} must be a number, got {type(value).__name__} "
                                f"{str(value)[:60]!r}")
        if not math.isfinite(value):
            raise RunParamError(f"run parameter {self.name} must be finite, got {value!r}")
        if self.minimum is not None and value < self.minimum:
            raise RunParamError(f"run parameter {self.name}={value} is below its minimum {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            raise RunParamError(f"run parameter {self.name}={value} is above its maximum {self.maximum}")
        return value


#: A lake catalogue name or run id given in a form: one path segment (no '/', no leading '.'), so it can
#: never point outside its bucket prefix (`.`, `..` and any id of dots only are refused). The one
#: declaration: the DAG Params, `check_run_id` and `safe_run_id` use it; dbt/macros/check_scope.sql spells
#: it out (dbt cannot import Python) and a unit test keeps the two equal.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


def check_run_id(value: Any, what: str = "run id") -> str:
    """`value` if it is a run id by NAME_PATTERN (one path segment, never `.` or `..`); RunParamError
    naming `what` otherwise. Used wherever a run id comes from outside: run conf, Asset event extras."""
    import re

    if not isinstance(value, str) or not re.fullmatch(NAME_PATTERN, value):
        raise RunParamError(f"{what} {str(value)[:60]!r} is not a run id: it must match {NAME_PATTERN} "
                            f"(one folder name of letters, digits, '_', '.', '-', not starting with '.')")
    return value

#: The dbt vars a run may override (candidate cuts); their defaults are in dbt/dbt_project.yml.
CUTS: tuple[NumberParam, ...] = (
    NumberParam("parallax_snr_min", "Parallax S/N needed for a distance (default 5)."),
    NumberParam("grade_a_min_probability", "Grade A: association probability at least (default 0.95).",
                maximum=1.0),
    NumberParam("grade_a_min_parallax_snr", "Grade A: parallax S/N at least (default 5)."),
    NumberParam("grade_b_min_probability", "Grade B: association probability at least (default 0.8).",
                maximum=1.0),
)
CUT_NAMES = tuple(c.name for c in CUTS)


#: dbt var naming the runs whose rows the data tests check (dbt/macros/check_scope.sql); absent or empty:
#: every run. The marts themselves need no var: they find the runs loaded since their last build.
CHECK_RUNS_VAR = "check_runs"


def dbt_check_runs_vars(run_ids: Iterable[str] | None) -> dict[str, list[str]]:
    """`{"check_runs": [...]}` for dbt, each id checked against NAME_PATTERN (the macro checks it again);
    {} (test every run) when there are none."""
    ids = sorted(set(run_ids or ()))
    for run_id in ids:
        check_run_id(run_id, "cannot scope the dbt tests with run id")
    return {CHECK_RUNS_VAR: ids} if ids else {}


def cut_params() -> dict[str, Any]:
    """Airflow `Param`s for the cuts (imported lazily: this module is also used without Airflow)."""
    from airflow.sdk import Param

    return {c.name: Param(None, **c.schema(), description=c.description) for c in CUTS}


def dbt_cut_vars(params: Mapping[str, Any] | None) -> dict[str, float | int]:
    """The cuts a run sets, checked; only these reach dbt (as JSON numbers in `--vars`)."""
    params = params or {}
    return {c.name: c.check(params[c.name]) for c in CUTS if params.get(c.name) is not None}


def warn_unknown(params: Mapping[str, Any] | None, declared: Iterable[str], where: str) -> list[str]:
    """Log (and return) the keys of a run's params that no Param declares: they are ignored."""
    unknown = sorted(set(params or {}) - set(declared))
    if unknown:
        log.warning("%s: ignoring run conf key(s) that no parameter declares: %s", where, ", ".join(unknown))
    return unknown
