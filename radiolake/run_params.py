"""Run parameters: one declaration of every value a DAG run, the CLI or spark-submit may set, typed and bounded.

`PARAMS` declares each parameter once (name, type, default, bounds, help, the stage it applies to);
`SURFACES` names the parameters each surface shows (a DAG's form, a CLI command, the spark-submit job) and
`VARIANTS` the few defaults or bounds one surface sets differently (the pipeline's demo sky, the cross-match
DAG's lake names). The Airflow Params, the typer options and the spark-submit argv are generated from them
(radiolake.run_param_surfaces); docs/configuration.md shows the table and a unit test keeps it equal.

A run's `conf` comes from whoever can trigger a DAG. Airflow validates declared Params (JSON schema), but a
key that no Param declares passes through untouched, and dbt renders `--vars` straight into SQL. So every
value is checked again here in Python (`check_values`: the type, never a string parsed as a number, finite,
within bounds) into a typed object (`CrossmatchParams`, `IngestParams`) or, for the candidate cuts, into
JSON numbers for dbt; the dbt macro `num_var` refuses anything that is not a number as a third line of
defence. Nothing here is ever pasted into SQL.

Conf keys that no Param declares are ignored with a warning naming them (Airflow 3 accepts them at trigger
time; nothing downstream reads them).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

log = logging.getLogger(__name__)

#: The default search (CLI, pipeline and DAG forms): within DEFAULT_N_SIGMA of the combined error (radio with
#: its survey floor, the star's propagated error, the motion over a survey span), capped at
#: DEFAULT_MAX_RADIUS_ARCSEC so that a row with a huge error cannot widen the whole search. A fixed radius
#: stays possible: give a radius and no n-sigma.
DEFAULT_N_SIGMA = 5.0
DEFAULT_MAX_RADIUS_ARCSEC = 30.0


class RunParamError(ValueError):
    """A run parameter has the wrong type or is out of bounds; the message names it and what is allowed."""


#: A lake catalogue name or run id given in a form: one path segment (no '/', no leading '.'), so it can
#: never point outside its bucket prefix (`.`, `..` and any id of dots only are refused). The one
#: declaration: the DAG Params, `check_run_id` and `safe_run_id` use it; dbt/macros/check_scope.sql spells
#: it out (dbt cannot import Python) and a unit test keeps the two equal.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"


#: An epoch label: a catalogue-name suffix (letters, digits, '_', '.', '-'; a date as 2024-05-01).
EPOCH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
#: A lake catalogue, optionally at one version: NAME or NAME@VERSION.
FOR_RADIO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}(@[A-Za-z0-9][A-Za-z0-9_.-]{0,63})?$"


def epoch_catalog(survey: str, epoch: str | None) -> str | None:
    """The catalogue a radio epoch is ingested into (`<survey>_<epoch>`); None without an epoch (the survey's
    own catalogue)."""
    return f"{survey}_{epoch}" if epoch else None


def check_run_id(value: Any, what: str = "run id") -> str:
    """`value` if it is a run id by NAME_PATTERN (one path segment, never `.` or `..`); RunParamError
    naming `what` otherwise. Used wherever a run id comes from outside: run conf, Asset event extras."""
    if not isinstance(value, str) or not re.fullmatch(NAME_PATTERN, value):
        raise RunParamError(f"{what} {str(value)[:60]!r} is not a run id: it must match {NAME_PATTERN} "
                            f"(one folder name of letters, digits, '_', '.', '-', not starting with '.')")
    return value


#: Where a parameter acts: reading a catalogue in, drawing the synthetic sky, the cross-match (and the run it
#: writes, which the warehouse loads), the dbt candidate cuts.
Stage = Literal["ingest", "synthetic sky", "cross-match", "candidate cuts"]
#: Where a user sets it: the DAG forms, the CLI commands, the spark-submit job.
Surface = Literal["pipeline", "crossmatch_dag", "ingest_dag", "warehouse_dag", "cli_crossmatch", "cli_ingest",
                  "spark"]


class _Required:
    """The default of a parameter a surface cannot do without (the CLI's --radio)."""

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}


@dataclass(frozen=True)
class RunParam:
    """One run parameter. `nullable`: empty (None) is a value of its own (the project's or survey's default,
    or "off"), and the form does not mark the field required. `choices`: a survey kind whose registry
    names are the allowed values (read when a form is built, so a new survey definition shows up)."""

    name: str
    type: type
    default: Any
    help: str
    stage: Stage
    title: str | None = None
    nullable: bool = True
    minimum: float | None = None
    exclusive_minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    choices: Literal["radio", "stellar"] | None = None

    def schema(self) -> dict[str, Any]:
        """JSON-schema keywords for an Airflow `Param` (null-able: empty means "the default")."""
        out: dict[str, Any] = {}
        if self.choices is not None:
            out["enum"] = survey_choices(self.choices)
        else:
            json_type = _JSON_TYPES[self.type]
            out["type"] = ["null", json_type] if self.nullable else json_type
        for key, bound in (("minimum", self.minimum), ("exclusiveMinimum", self.exclusive_minimum),
                           ("maximum", self.maximum), ("pattern", self.pattern)):
            if bound is not None:
                out[key] = bound
        return out

    def bounds(self) -> str:
        """The bounds in words, for the docs table."""
        parts = []
        if self.minimum is not None:
            parts.append(f">= {self.minimum:g}")
        if self.exclusive_minimum is not None:
            parts.append(f"> {self.exclusive_minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        if self.pattern is not None:
            parts.append("a lake name" if self.pattern == NAME_PATTERN else f"matches {self.pattern}")
        if self.choices is not None:
            parts.append(f"a {self.choices} survey definition")
        return ", ".join(parts)

    def check(self, value: Any) -> Any:
        """The value, typed, if it is of this parameter's type (numbers are never parsed from strings),
        finite and within bounds; None if unset and null-able; RunParamError naming the parameter otherwise."""
        if value is None:
            if self.nullable:
                return None
            raise RunParamError(f"run parameter {self.name} is required")
        name, shown = self.name, f"{type(value).__name__} {str(value)[:60]!r}"
        if self.type in (int, float):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RunParamError(f"run parameter {name} must be a number, got {shown}")
            if not math.isfinite(value):
                raise RunParamError(f"run parameter {name} must be finite, got {value!r}")
            if self.type is int:
                if not float(value).is_integer():
                    raise RunParamError(f"run parameter {name} must be a whole number, got {value!r}")
                value = int(value)
            else:
                value = float(value)
            if self.minimum is not None and value < self.minimum:
                raise RunParamError(f"run parameter {name}={value} is below its minimum {self.minimum:g}")
            if self.exclusive_minimum is not None and value <= self.exclusive_minimum:
                raise RunParamError(f"run parameter {name}={value} must be above {self.exclusive_minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise RunParamError(f"run parameter {name}={value} is above its maximum {self.maximum:g}")
            return value
        if not isinstance(value, self.type):
            raise RunParamError(f"run parameter {name} must be a {_JSON_TYPES[self.type]}, got {shown}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise RunParamError(f"run parameter {name}={str(value)[:60]!r} must match {self.pattern}")
        if self.choices is not None and value not in survey_choices(self.choices):
            raise RunParamError(f"run parameter {name}={str(value)[:60]!r} is not a {self.choices} survey; "
                                f"known: {', '.join(survey_choices(self.choices))}")
        return value


def survey_choices(kind: str) -> list[str]:
    """Survey definition names of one kind (radio, or stellar: every other kind), sorted."""
    from radiolake.surveys import load_registry

    registry = load_registry()
    return sorted(n for n, d in registry.items() if (d.kind == "radio") == (kind == "radio"))


_IMPORTS = ("A file in the imports folder (<state dir>/imports, or RADIOLAKE_IMPORT_DIRS); a relative name is "
            "taken inside the imports folder.")
_REGION = "all | cone:RA,DEC,RADIUS | box:RA1,RA2,DEC1,DEC2 | healpix:ORDER:PIX,..."


def _cut(name: str, help: str, maximum: float | None = None) -> RunParam:
    """A candidate cut: a dbt var a run may override; its default lives in dbt/dbt_project.yml."""
    return RunParam(name, float, None, help, "candidate cuts", minimum=0.0, maximum=maximum)


#: Every run parameter, once. Defaults are the CLI's and the ingest DAG's; VARIANTS lists the exceptions.
PARAMS: tuple[RunParam, ...] = (
    # which catalogues
    RunParam("radio_survey", str, "synthetic_radio", "Radio survey definition to ingest.", "ingest",
             title="Radio survey", nullable=False, choices="radio"),
    RunParam("stars_survey", str, "synthetic_stars", "Stellar survey definition to ingest.", "ingest",
             title="Stellar catalogue", nullable=False, choices="stellar"),
    RunParam("region", str, "all", _REGION, "ingest", title="Sky region", nullable=False),
    RunParam("epoch", str, None, "Epoch of the radio survey (a label such as epoch2 or a date such as "
             "2024-05): its rows go to a catalogue of their own, <survey>_<epoch>, that grows region by region "
             "beside the other epochs' (nothing earlier is replaced), so its detections are new light-curve "
             "points of the same stars. Empty: the survey's one catalogue.", "ingest", title="Radio epoch",
             pattern=EPOCH_PATTERN),
    RunParam("path", str, None, "Read this local file instead of the survey's source; it must lie in an allowed "
             "import folder (<state dir>/imports, or RADIOLAKE_IMPORT_DIRS). In a DAG form a relative name is "
             "taken inside the imports folder.", "ingest", title="Local file (file surveys; else the survey's source)"),
    RunParam("radio_path", str, None, f"Radio file (file surveys). {_IMPORTS}", "ingest",
             title="Radio file (file surveys)"),
    RunParam("stars_path", str, None, f"Stars file (file surveys). {_IMPORTS}", "ingest",
             title="Stars file (file surveys)"),
    RunParam("max_bad_fraction", float, None, "Fail if a larger share of rows is rejected (default: the "
             "survey definition's).", "ingest", title="Max share of rejected rows", minimum=0.0, maximum=1.0),
    RunParam("allow_large_fetch", bool, False,
             "Fetch even above RADIOLAKE_INGEST_MAX_ROWS rows (default 10 million), or the whole sky of a table "
             "of unknown size. Without it such a fetch fails at once, naming its estimated rows and bytes.",
             "ingest", title="Allow a large fetch", nullable=False),
    RunParam("for_radio", str, None, "Fetch the stellar survey only where this lake radio catalogue (NAME or "
             "NAME@VERSION) has sources, widened by the motion margin: pixel by pixel and resumable, or by TAP "
             "upload for a sparse list; cells the star catalogue holds already are not fetched again.", "ingest",
             title="Only where this radio catalogue has sources", pattern=FOR_RADIO_PATTERN),
    RunParam("footprint_mode", str, None, "With for_radio: pixels or upload (empty: upload for a sparse radio "
             "list, pixels otherwise; the rule is printed).", "ingest", title="Footprint fetch mode",
             pattern=r"^(pixels|upload)$"),
    RunParam("fetch_radius_arcsec", float, DEFAULT_MAX_RADIUS_ARCSEC, "With for_radio: the largest match radius "
             "(arcsec) the stars are fetched for; the footprint is widened by it plus the motion margin. The "
             "default is the cross-match's default cap; a fetch for a 2-arcsec match can give 2 and fetch less "
             "(a later match with a larger radius would then miss stars at the footprint's edge).", "ingest",
             title="With for_radio: match radius to fetch for (arcsec)", nullable=False, exclusive_minimum=0.0,
             maximum=3600.0),
    # the synthetic sky
    RunParam("rows", int, None, "Synthetic surveys only: number of stars (radio sources scale with it).",
             "synthetic sky", title="Synthetic sky: stars", minimum=1),
    RunParam("seed", int, None, "Synthetic surveys only: random seed.", "synthetic sky",
             title="Synthetic sky: seed"),
    # the cross-match
    RunParam("radio", str, REQUIRED, "Radio catalogue: lake name, local Parquet file/folder or s3:// URL "
             "(a DAG form takes lake names only).", "cross-match", title="Radio catalogue (lake name)",
             nullable=False),
    RunParam("stars", str, REQUIRED, "Stellar catalogue: lake name, local Parquet file/folder or s3:// URL "
             "(a DAG form takes lake names only).", "cross-match", title="Stellar catalogue (lake name)",
             nullable=False),
    RunParam("radius_arcsec", float, DEFAULT_MAX_RADIUS_ARCSEC,
             "Match radius (arcsec). With n sigma: the cap of the n-sigma search. Without n sigma: a fixed "
             "radius. Empty: uncapped.", "cross-match", title="Match radius (arcsec)",
             exclusive_minimum=0.0, maximum=3600.0),
    RunParam("n_sigma", float, DEFAULT_N_SIGMA,
             "Match within n sigma of the combined error (radio with its survey floor, star moved to the radio "
             "epoch). Empty: the fixed radius only.", "cross-match", title="n sigma", exclusive_minimum=0.0),
    RunParam("offsets", int, 8, "Offset skies for the false-association rate (0: none).", "cross-match",
             title="Offset skies (false-association rate)", nullable=False, minimum=0, maximum=64),
    RunParam("offset_arcmin", float, 3.0, "Size of the offsets (arcmin).", "cross-match",
             title="Offset size (arcmin)", nullable=False, exclusive_minimum=0.0),
    RunParam("k_nearest", int, None, "Keep only the k nearest stars per radio source.", "cross-match",
             title="Keep k nearest per source", minimum=1),
    RunParam("join_order", int, None, "HEALPix join order (default: chosen from the reach).", "cross-match",
             minimum=0, maximum=29),
    RunParam("radio_epoch", float, None, "Julian year of the radio positions, for a Parquet file without an "
             "`epoch` column.", "cross-match"),
    RunParam("stars_epoch", float, None, "Julian year of the star positions (2016.0 for Gaia DR3), for a file "
             "without an `epoch` column.", "cross-match"),
    RunParam("executor", str, "spark", "Where the star tasks run: spark (Spark, local or a cluster), local (a "
             "pool of worker processes on this machine, no JVM) or auto (local when Spark's master would be "
             "local, else Spark).", "cross-match", title="Executor", nullable=False, pattern=r"^(auto|spark|local)$"),
    RunParam("only_new", bool, True, "Match only the radio rows this stellar catalogue version has not met: "
             "when an earlier run (same stars version and settings) matched an older version of the radio "
             "catalogue, only the sky regions whose partitions changed since are matched, and the marts "
             "replace detections there and nowhere else. Off: match everything (with a region other than "
             "all: every radio row of that region, a rerun of the region).", "cross-match",
             title="Match only new radio rows", nullable=False),
    RunParam("out", str, None, "Results folder (local or s3://); default s3://xmatch/<run>.", "cross-match"),
    RunParam("run_id", str, None, "Cross-match run id. Cross-match: the run to write (default: time + random "
             "suffix). Warehouse: the run to load (xmatch/<run_id>/); empty: the run(s) announced by the "
             "triggering Asset events.", "cross-match", title="Run id"),
    # candidate cuts (dbt vars)
    _cut("parallax_snr_min", "Parallax S/N needed for a distance (default 5)."),
    _cut("grade_a_min_probability", "Grade A: association probability at least (default 0.95).", maximum=1.0),
    _cut("grade_a_min_parallax_snr", "Grade A: parallax S/N at least (default 5)."),
    _cut("grade_b_min_probability", "Grade B: association probability at least (default 0.8).", maximum=1.0),
)
BY_NAME: dict[str, RunParam] = {p.name: p for p in PARAMS}

#: The candidate cuts: the dbt vars a run may override; their defaults are in dbt/dbt_project.yml.
CUTS: tuple[RunParam, ...] = tuple(p for p in PARAMS if p.stage == "candidate cuts")
CUT_NAMES = tuple(c.name for c in CUTS)
_CROSSMATCH = ("radius_arcsec", "n_sigma", "offsets", "offset_arcmin")

#: The parameters each surface shows, in form / --help order.
SURFACES: dict[Surface, tuple[str, ...]] = {
    "pipeline": ("radio_survey", "stars_survey", "region", "epoch", "rows", "seed", "radio_path", "stars_path",
                 *_CROSSMATCH, "only_new", *CUT_NAMES),
    "crossmatch_dag": ("radio", "stars", *_CROSSMATCH, "k_nearest", "only_new"),
    "ingest_dag": ("region", "rows", "seed", "path", "max_bad_fraction", "allow_large_fetch", "for_radio",
                   "footprint_mode", "fetch_radius_arcsec"),
    "warehouse_dag": ("run_id", *CUT_NAMES),
    "cli_crossmatch": ("radio", "stars", *_CROSSMATCH, "k_nearest", "out", "run_id", "join_order",
                       "radio_epoch", "stars_epoch", "executor", "only_new"),
    "cli_ingest": ("region", "rows", "seed", "path", "max_bad_fraction", "allow_large_fetch", "for_radio",
                   "footprint_mode", "fetch_radius_arcsec"),
    "spark": ("radio", "stars", *_CROSSMATCH, "k_nearest", "out", "run_id", "join_order", "only_new"),
}

#: Where a surface sets a default or a bound of its own. The pipeline's form starts on a small demo sky;
#: the cross-match DAG's form takes lake names only (never a path) and names a real pair; spark-submit
#: has no default search (give --radius-arcsec, --n-sigma or both); the warehouse form takes run ids only.
VARIANTS: dict[Surface, dict[str, dict[str, Any]]] = {
    "pipeline": {"region": {"default": "cone:270,-30,3"}, "rows": {"default": 20000, "minimum": 100},
                 "seed": {"default": 42}},
    "crossmatch_dag": {"radio": {"default": "racs_low", "pattern": NAME_PATTERN},
                       "stars": {"default": "gaia_dr3", "pattern": NAME_PATTERN}},
    "warehouse_dag": {"run_id": {"pattern": NAME_PATTERN}},
    "spark": {"radius_arcsec": {"default": None}, "n_sigma": {"default": None}},
    "cli_crossmatch": {"executor": {"default": "auto"}},
}


def param(name: str, surface: Surface | None = None) -> RunParam:
    """The declaration of `name` as `surface` shows it (its variant applied)."""
    base = BY_NAME[name]
    changes = VARIANTS.get(surface, {}).get(name) if surface else None
    return dataclasses.replace(base, **changes) if changes else base


def surface_params(surface: Surface) -> tuple[RunParam, ...]:
    """The parameters of one surface, as it shows them."""
    return tuple(param(name, surface) for name in SURFACES[surface])


def surface_defaults(surface: Surface) -> dict[str, Any]:
    """{name: default} of one surface (REQUIRED parameters left out)."""
    return {p.name: p.default for p in surface_params(surface) if p.default is not REQUIRED}


def check_values(surface: Surface, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Every parameter of `surface`, typed and checked; RunParamError names the first bad one. An absent
    key takes the surface's default; an empty one (None or empty text) means "empty" where the parameter is
    null-able (a form's cleared field: e.g. no radius cap) and the default where it is not. Keys the surface
    does not declare are ignored (see warn_unknown)."""
    values = values or {}
    out: dict[str, Any] = {}
    for p in surface_params(surface):
        value = values.get(p.name, p.default)
        if value is None or (p.type is str and value == ""):
            value = None if p.nullable or p.default is REQUIRED else p.default
        out[p.name] = p.check(value)
    return out


@dataclass(frozen=True)
class CrossmatchParams:
    """A cross-match run's parameters, checked (check_values): what the driver (crossmatch.runner) takes."""

    radio: str
    stars: str
    radius_arcsec: float | None
    n_sigma: float | None
    offsets: int
    offset_arcmin: float
    k_nearest: int | None = None
    join_order: int | None = None
    radio_epoch: float | None = None
    stars_epoch: float | None = None
    out: str | None = None
    run_id: str | None = None
    executor: str = "spark"  # where the tasks run: spark, local or auto (crossmatch.executors.use_local)
    only_new: bool = True  # match only radio rows the star version has not met (crossmatch.increment)
    region: str = "all"  # with only_new off: rerun this region only

    @classmethod
    def from_values(cls, surface: Surface, values: Mapping[str, Any] | None, **given: Any) -> CrossmatchParams:
        """Checked from a surface's raw values; `given` are values the code supplies (the catalogues an
        ingest task produced), checked the same way. Needs a radius, n sigma or both."""
        checked = check_values(surface, values)
        for name, value in given.items():
            checked[name] = BY_NAME[name].check(value)
        fields = {f.name for f in dataclasses.fields(cls)}
        for name in fields - set(checked):
            default = BY_NAME[name].default
            checked[name] = None if default is REQUIRED else default
        kept = {k: v for k, v in checked.items() if k in fields}
        if kept["radius_arcsec"] is None and kept["n_sigma"] is None:
            raise RunParamError("run parameters radius_arcsec and n_sigma are both empty: give radius_arcsec, "
                                "n_sigma or both")
        for name in ("radio", "stars"):
            if not kept[name]:
                raise RunParamError(f"run parameter {name} is required")
        return cls(**kept)

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of `crossmatch.runner.crossmatch_run` (after the two catalogues)."""
        out = dataclasses.asdict(self)
        del out["radio"], out["stars"]
        return out


@dataclass(frozen=True)
class IngestParams:
    """One ingest's parameters, checked: what `pipeline.ingest_survey_step` takes."""

    region: str = "all"
    rows: int | None = None
    seed: int | None = None
    path: str | None = None
    max_bad_fraction: float | None = None
    allow_large_fetch: bool = False
    for_radio: str | None = None  # only over this radio catalogue's footprint (ingest.for_radio)
    footprint_mode: str | None = None  # with for_radio: pixels or upload (None: chosen by the rule)
    fetch_radius_arcsec: float = DEFAULT_MAX_RADIUS_ARCSEC  # with for_radio: the match radius fetched for

    @classmethod
    def from_values(cls, surface: Surface, values: Mapping[str, Any] | None) -> IngestParams:
        checked = check_values(surface, values)
        return cls(**{f.name: checked[f.name] for f in dataclasses.fields(cls) if f.name in checked})

    @classmethod
    def for_role(cls, role: Literal["radio", "stars"], values: Mapping[str, Any] | None) -> tuple[str, IngestParams]:
        """(survey, params) of the pipeline's radio or stars ingest: `<role>_survey`, `<role>_path`."""
        checked = check_values("pipeline", values)
        return checked[f"{role}_survey"], cls(region=checked["region"], rows=checked["rows"], seed=checked["seed"],
                                              path=checked[f"{role}_path"])


def dbt_cut_vars(params: Mapping[str, Any] | None) -> dict[str, float | int]:
    """The cuts a run sets, checked; only these reach dbt (as JSON numbers in `--vars`)."""
    params = params or {}
    return {c.name: c.check(params[c.name]) for c in CUTS if params.get(c.name) is not None}


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


def warn_unknown(params: Mapping[str, Any] | None, declared: Iterable[str], where: str) -> list[str]:
    """Log (and return) the keys of a run's params that no Param declares: they are ignored."""
    unknown = sorted(set(params or {}) - set(declared))
    if unknown:
        log.warning("%s: ignoring run conf key(s) that no parameter declares: %s", where, ", ".join(unknown))
    return unknown
