"""Survey registry: one declarative YAML definition per survey, no code per survey.

A definition says where a survey comes from (``source``), how its file is read (``format``), how its
columns map onto the canonical schema in `radiolake.schema` (with units, converted with astropy.units),
how each row's epoch is found (a fixed epoch, or per row from a date/MJD column), and how to cite it.

Definitions ship in ``radiolake/surveys/definitions/*.yaml``. A user adds a survey by dropping one more
YAML file into ``$RADIOLAKE_HOME/surveys/`` (the state directory); a user file with the same ``name`` as
a shipped one overrides it. See ``definitions/README.md`` for the format.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import astropy.units as u
import yaml

from radiolake.config import state_home

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"

KINDS = ("radio", "stellar")
SOURCE_KINDS = ("file", "url", "tap", "pypi_wheel", "synthetic")
FORMATS = ("csv", "fits", "votable", "parquet", "whitespace", "binary_records", "synthetic")
EPOCH_FORMATS = ("jyear", "mjd", "jd", "isot", "decimalyear")

#: Unit each canonical / standard column is stored in; a mapping's `unit` is converted to this.
TARGET_UNITS: dict[str, str | None] = {
    "source_id": None,
    "ra": "deg",
    "dec": "deg",
    "ra_error": "arcsec",
    "dec_error": "arcsec",
    "pmra": "mas/yr",
    "pmdec": "mas/yr",
    "parallax": "mas",
    "parallax_error": "mas",
    "flux_peak_mjy": "mJy",
    "flux_int_mjy": "mJy",
    "flux_error_mjy": "mJy",
    "freq_mhz": "MHz",
    "flux_v_peak_mjy": "mJy",
    "flux_v_int_mjy": "mJy",
    "flux_v_error_mjy": "mJy",
    "phot_g_mean_mag": "mag",
    "phot_bp_mean_mag": "mag",
    "phot_rp_mean_mag": "mag",
    "bp_rp": "mag",
    "pos_err_major": "arcsec",
    "pos_err_minor": "arcsec",
    "pos_err_pa": "deg",
    "epoch_span_years": "yr",
}
REQUIRED_OUTPUTS = ("source_id", "ra", "dec")
#: Ways to make a stable id for a catalogue that has no id column (``source_id: {generate: ...}``):
#: ``iau_name`` - JHHMMSS.ss+DDMMSS.s from the position (truncated, as the IAU convention asks), stable
#: whatever the row order; ``row_number`` - the 0-based row in the source file, stable for one fixed file.
ID_GENERATORS = ("iau_name", "row_number")


class SurveyDefinitionError(ValueError):
    """A survey definition is malformed; the message names the file and the field."""


@dataclass(frozen=True)
class ColumnMap:
    """How one output column is made: from a source column (with unit) or a constant value."""

    output: str
    source: str | None = None  # source column name
    value: Any = None  # constant, when there is no source column
    unit: str | None = None  # unit of the source values; converted to TARGET_UNITS[output]
    null_if: tuple[float, ...] = ()  # sentinels meaning "unknown" (e.g. Aegean writes -1 for no error)
    times_cos_dec: bool = False  # source RA error is in RA coordinate units, not on the sky
    generate: str | None = None  # source_id only: one of ID_GENERATORS, for catalogues without an id

    def factor(self) -> float:
        """Multiplicative factor from the source unit to the stored unit (1 when either is unset)."""
        target = TARGET_UNITS.get(self.output)
        if not self.unit or not target or target == "mag":
            return 1.0
        try:
            return float(u.Unit(self.unit).to(u.Unit(target)))
        except (ValueError, u.UnitConversionError) as exc:
            raise SurveyDefinitionError(
                f"column {self.output}: cannot convert {self.unit!r} to {target}"
            ) from exc


@dataclass(frozen=True)
class EpochRule:
    """A fixed epoch (Julian year), a per-row epoch column in one of EPOCH_FORMATS, or a survey span.

    `span` (first, last Julian year): the catalogue gives no date per row, only the survey's observing span.
    The row's epoch is then the span's middle and `epoch_span_years` (last - first) is stored with each row:
    the cross-match adds the star's motion over the span to the pair's covariance (a date uniform over a
    span of T years has variance T^2/12), instead of pretending the middle is the date."""

    fixed: float | None = None
    column: str | None = None
    format: str = "jyear"
    span: tuple[float, float] | None = None

    @property
    def span_years(self) -> float | None:
        return None if self.span is None else self.span[1] - self.span[0]

    def describe(self) -> str:
        if self.span is not None:
            return f"J{self.fixed} (middle of the survey span {self.span[0]}-{self.span[1]}, no per-row date)"
        return f"J{self.fixed}" if self.fixed is not None else f"per row from {self.column} ({self.format})"


@dataclass(frozen=True)
class SnrErrorFormula:
    """Per-row position errors from a formula, for a survey that quotes none (YAML `positions.error_formula`).

    Along each fitted axis (the shape columns, after deconvolved -> fitted): sigma = axis * (1 / SNR +
    systematic_fraction) / confidence_sigma, with SNR = (peak - peak_bias) / rms. FIRST's (White et al. 1997,
    ApJ 475, 479): unc(90 %) = sqrt(5.4^2 + size^2) (1/SNR + 1/20) per axis, SNR = (Fpeak - 0.25) / rms, so
    systematic_fraction 0.05, peak_bias 0.25 (mJy, the CLEAN bias) and confidence_sigma 1.645 (one axis at
    90 %). An SNR below 1 or unknown counts as 1: the formula's largest error, never a confident one."""

    peak: str
    rms: str
    peak_bias: float
    systematic_fraction: float
    confidence_sigma: float


@dataclass(frozen=True)
class PositionErrorRule:
    """How the survey's quoted positional errors become the real ones (YAML block `positions`).

    systematic_error_arcsec: a floor added in quadrature to the quoted errors (surveys publish one: their
    quoted fit errors leave out calibration and astrometric systematics). One number, or per row from a
    column: `{by: column, values: {value: arcsec, ...}, default: arcsec}`.
    error_ellipse_from_shape: [major, minor, pa] columns of the fitted component shape; the error ellipse gets
    its orientation and axis ratio, sized by the quoted RA/Dec errors (see surveys.positional_errors).
    """

    floor_arcsec: float = 0.0
    floor_by: str | None = None
    floor_values: dict[str, float] = field(default_factory=dict)
    shape_columns: tuple[str, str, str] | None = None
    #: The shape columns are deconvolved sizes (NVSS): the fitted axes, which the position errors scale with,
    #: are sqrt(axis^2 + beam^2) for this circular restoring beam FWHM (arcsec); None: the axes are fitted.
    shape_beam_arcsec: float | None = None
    #: Columns flagging an axis as an upper limit ('<'): that deconvolved axis counts as 0 (unresolved).
    shape_limit_columns: tuple[str, str] | None = None
    #: The survey quotes no errors per row but a formula (FIRST: White et al. 1997): along each fitted axis,
    #: sigma = axis * (1 / SNR + systematic_fraction) / confidence_sigma, SNR = (peak - peak_bias) / rms.
    #: See `SnrErrorFormula`; None: the quoted error columns size the ellipse.
    snr_errors: SnrErrorFormula | None = None

    @property
    def columns(self) -> list[str]:
        """Raw columns the rule reads."""
        return ([self.floor_by] if self.floor_by else []) + list(self.shape_columns or ()) + list(
            self.shape_limit_columns or ()) + ([self.snr_errors.peak, self.snr_errors.rms] if self.snr_errors else [])

    def describe(self) -> dict[str, Any]:
        out = {
            "floor_arcsec": self.floor_arcsec,
            "floor_by": self.floor_by,
            "floor_values": dict(sorted(self.floor_values.items())),
            "shape_columns": list(self.shape_columns) if self.shape_columns else None,
        }
        if self.shape_beam_arcsec is not None or self.shape_limit_columns:  # older fingerprints unchanged
            out["shape_beam_arcsec"] = self.shape_beam_arcsec
            out["shape_limit_columns"] = list(self.shape_limit_columns or ())
        if self.snr_errors is not None:  # older fingerprints unchanged
            out["snr_errors"] = self.snr_errors.__dict__
        return out


def _parse_positions(path: str, spec: Any) -> PositionErrorRule:
    if spec is None:
        return PositionErrorRule()
    if not isinstance(spec, dict):
        raise SurveyDefinitionError(f"{path}: positions must be a mapping")
    unknown = set(spec) - {"systematic_error_arcsec", "error_ellipse_from_shape", "shape_deconvolved_beam_arcsec",
                           "shape_upper_limit_flags", "error_formula"}
    if unknown:
        raise SurveyDefinitionError(f"{path}: positions has unknown field(s) {sorted(unknown)}")
    floor = spec.get("systematic_error_arcsec", 0.0)
    by, values = None, {}
    if isinstance(floor, dict):
        if "by" not in floor or "default" not in floor:
            raise SurveyDefinitionError(
                f"{path}: positions.systematic_error_arcsec as a mapping needs `by` (a column) and `default`"
            )
        by = str(floor["by"])
        values = {str(k): float(v) for k, v in dict(floor.get("values", {}) or {}).items()}
        floor = floor["default"]
    try:
        floor = float(floor)
    except (TypeError, ValueError) as exc:
        raise SurveyDefinitionError(f"{path}: positions.systematic_error_arcsec must be a number") from exc
    if floor < 0 or any(v < 0 for v in values.values()):
        raise SurveyDefinitionError(f"{path}: positions.systematic_error_arcsec must be >= 0")
    shape = spec.get("error_ellipse_from_shape")
    if shape is not None and (not isinstance(shape, list) or len(shape) != 3):
        raise SurveyDefinitionError(
            f"{path}: positions.error_ellipse_from_shape must list three columns: [major, minor, pa]"
        )
    beam = spec.get("shape_deconvolved_beam_arcsec")
    limits = spec.get("shape_upper_limit_flags")
    if (beam is not None or limits is not None) and shape is None:
        raise SurveyDefinitionError(
            f"{path}: positions.shape_deconvolved_beam_arcsec / shape_upper_limit_flags need error_ellipse_from_shape")
    if beam is not None and (isinstance(beam, bool) or not isinstance(beam, int | float) or not beam > 0):
        raise SurveyDefinitionError(f"{path}: positions.shape_deconvolved_beam_arcsec must be a positive number")
    if limits is not None and (not isinstance(limits, list) or len(limits) != 2):
        raise SurveyDefinitionError(f"{path}: positions.shape_upper_limit_flags must list two columns: [major, minor]")
    return PositionErrorRule(floor, by, values, tuple(str(c) for c in shape) if shape else None,
                             float(beam) if beam is not None else None,
                             tuple(str(c) for c in limits) if limits else None,
                             _parse_error_formula(path, spec.get("error_formula"), shape is not None))


def _parse_error_formula(path: str, spec: Any, has_shape: bool) -> SnrErrorFormula | None:
    if spec is None:
        return None
    fields = ("peak", "rms", "peak_bias", "systematic_fraction", "confidence_sigma")
    if not isinstance(spec, dict) or set(spec) != set(fields):
        raise SurveyDefinitionError(f"{path}: positions.error_formula must give exactly {', '.join(fields)}")
    if not has_shape:
        raise SurveyDefinitionError(f"{path}: positions.error_formula needs error_ellipse_from_shape (its axes)")
    try:
        numbers = [float(spec[k]) for k in fields[2:]]
    except (TypeError, ValueError) as exc:
        raise SurveyDefinitionError(f"{path}: positions.error_formula's {', '.join(fields[2:])} are numbers") from exc
    if numbers[1] < 0 or numbers[2] <= 0:
        raise SurveyDefinitionError(
            f"{path}: positions.error_formula needs systematic_fraction >= 0 and confidence_sigma > 0")
    return SnrErrorFormula(str(spec["peak"]), str(spec["rms"]), *numbers)


@dataclass(frozen=True)
class SurveyDefinition:
    name: str
    kind: str
    title: str
    source: dict[str, Any]
    format: str
    columns: dict[str, ColumnMap]
    epoch: EpochRule
    citation: str
    licence: str
    id_prefix: str
    read_options: dict[str, Any] = field(default_factory=dict)
    keep: tuple[str, ...] = ()  # survey columns carried along unchanged
    keep_units: dict[str, str] = field(default_factory=dict)
    max_bad_fraction: float = 0.05
    positions: PositionErrorRule = field(default_factory=PositionErrorRule)
    description: str = ""
    path: str = ""

    @property
    def source_kind(self) -> str:
        return self.source["kind"]

    def fingerprint(self) -> str:
        """Stable hash of everything that shapes the catalogue (not the file path or prose)."""
        payload = {
            "name": self.name,
            "kind": self.kind,
            "source": self.source,
            "format": self.format,
            "read_options": self.read_options,
            "keep": list(self.keep),
            "columns": {
                k: [c.source, c.value, c.unit, list(c.null_if), c.times_cos_dec]
                + ([c.generate] if c.generate else [])  # fingerprints of existing definitions unchanged
                for k, c in sorted(self.columns.items())
            },
            "epoch": [self.epoch.fixed, self.epoch.column, self.epoch.format]
            + ([list(self.epoch.span)] if self.epoch.span else []),  # older fingerprints unchanged
            "id_prefix": self.id_prefix,
        }
        if self.positions != PositionErrorRule():  # only then: older catalogues keep their fingerprint
            payload["positions"] = self.positions.describe()
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def units(self) -> dict[str, str]:
        """Units of every stored column, for the catalogue metadata."""
        out = {k: TARGET_UNITS[k] for k in self.columns if TARGET_UNITS.get(k)}
        out.update({"epoch": "yr (Julian)"})
        if self.epoch.span is not None:
            out["epoch_span_years"] = "yr"
        out.update(self.keep_units)
        return out


def _parse_column(path: str, output: str, spec: Any) -> ColumnMap:
    if isinstance(spec, str):
        spec = {"from": spec}
    if not isinstance(spec, dict):
        raise SurveyDefinitionError(f"{path}: columns.{output} must be a column name or a mapping")
    if output not in TARGET_UNITS:
        raise SurveyDefinitionError(
            f"{path}: columns.{output} is not a canonical or standard column; put survey columns in `keep`"
        )
    if "generate" in spec:
        if output != "source_id" or {"from", "value"} & set(spec):
            raise SurveyDefinitionError(
                f"{path}: columns.{output}: `generate` is only for source_id, without `from` or `value`")
        if spec["generate"] not in ID_GENERATORS:
            raise SurveyDefinitionError(
                f"{path}: columns.source_id.generate must be one of {ID_GENERATORS}, not {spec['generate']!r}")
        return ColumnMap(output=output, generate=str(spec["generate"]))
    if ("from" in spec) == ("value" in spec):
        raise SurveyDefinitionError(
            f"{path}: columns.{output} needs exactly one of `from` or `value`"
            + (" (or, when the catalogue has no id column, `generate: iau_name` or `generate: row_number`)"
               if output == "source_id" else ""))
    null_if = spec.get("null_if", [])
    cm = ColumnMap(
        output=output,
        source=spec.get("from"),
        value=spec.get("value"),
        unit=spec.get("unit"),
        null_if=tuple(float(x) for x in (null_if if isinstance(null_if, list) else [null_if])),
        times_cos_dec=bool(spec.get("times_cos_dec", False)),
    )
    cm.factor()  # validate the unit now, not at ingest time
    return cm


def parse_definition(data: dict[str, Any], path: str = "<dict>") -> SurveyDefinition:
    """Validate a definition dict (as loaded from YAML) into a SurveyDefinition."""

    def need(key: str) -> Any:
        if key not in data:
            raise SurveyDefinitionError(f"{path}: missing required field `{key}`")
        return data[key]

    name = str(need("name"))
    if not name.replace("_", "").isalnum() or not name.islower():
        raise SurveyDefinitionError(f"{path}: name {name!r} must be lower-case letters, digits and _")
    kind = need("kind")
    if kind not in KINDS:
        raise SurveyDefinitionError(f"{path}: kind must be one of {KINDS}, not {kind!r}")
    source = dict(need("source"))
    if source.get("kind") not in SOURCE_KINDS:
        raise SurveyDefinitionError(f"{path}: source.kind must be one of {SOURCE_KINDS}")
    fmt = need("format")
    if fmt not in FORMATS:
        raise SurveyDefinitionError(f"{path}: format must be one of {FORMATS}, not {fmt!r}")
    columns = {out: _parse_column(path, out, spec) for out, spec in dict(need("columns")).items()}
    for req in REQUIRED_OUTPUTS:
        if req not in columns:
            raise SurveyDefinitionError(f"{path}: columns must map `{req}`")
    ep = dict(need("epoch"))
    unknown = set(ep) - {"fixed", "column", "format", "span"}
    if unknown:
        raise SurveyDefinitionError(f"{path}: epoch has unknown field(s) {sorted(unknown)}")
    if sum(k in ep for k in ("fixed", "column", "span")) != 1:
        raise SurveyDefinitionError(f"{path}: epoch needs exactly one of `fixed`, `column` or `span`")
    span = None
    if "span" in ep:
        try:
            first, last = (float(v) for v in ep["span"])
        except (TypeError, ValueError) as exc:
            raise SurveyDefinitionError(f"{path}: epoch.span must be [first, last] Julian years") from exc
        if not first <= last:
            raise SurveyDefinitionError(f"{path}: epoch.span must be [first, last] with first <= last")
        span = (first, last)
    epoch = EpochRule(
        fixed=float(ep["fixed"]) if "fixed" in ep else (0.5 * (span[0] + span[1]) if span else None),
        column=ep.get("column"),
        format=ep.get("format", "jyear"),
        span=span,
    )
    if epoch.format not in EPOCH_FORMATS:
        raise SurveyDefinitionError(f"{path}: epoch.format must be one of {EPOCH_FORMATS}")
    keep = data.get("keep", []) or []
    keep_names = tuple(k if isinstance(k, str) else next(iter(k)) for k in keep)
    keep_units = {next(iter(k)): str(next(iter(k.values()))) for k in keep if isinstance(k, dict)}
    return SurveyDefinition(
        name=name,
        kind=kind,
        title=str(data.get("title", name)),
        source=source,
        format=fmt,
        columns=columns,
        epoch=epoch,
        citation=str(need("citation")),
        licence=str(need("licence")),
        id_prefix=str(data.get("id_prefix", name)),
        read_options=dict(data.get("read_options", {}) or {}),
        keep=keep_names,
        keep_units=keep_units,
        max_bad_fraction=float(data.get("max_bad_fraction", 0.05)),
        positions=_parse_positions(path, data.get("positions")),
        description=str(data.get("description", "")),
        path=path,
    )


def load_definition_file(path: Path) -> SurveyDefinition:
    try:
        # libyaml's loader when present: the DAG files read every definition at each parse (one per task)
        data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise SurveyDefinitionError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SurveyDefinitionError(f"{path}: expected a mapping at top level")
    return parse_definition(data, str(path))


def definition_dirs() -> list[Path]:
    """Shipped definitions first, then the user's ($RADIOLAKE_HOME/surveys), which may override."""
    return [DEFINITIONS_DIR, state_home() / "surveys"]


def load_registry(dirs: list[Path] | None = None) -> dict[str, SurveyDefinition]:
    """All survey definitions by name; later directories override earlier ones."""
    registry: dict[str, SurveyDefinition] = {}
    for d in dirs if dirs is not None else definition_dirs():
        if d.is_dir():
            for path in sorted(d.glob("*.yaml")):
                definition = load_definition_file(path)
                registry[definition.name] = definition
    return registry


def get_survey(name: str, dirs: list[Path] | None = None) -> SurveyDefinition:
    registry = load_registry(dirs)
    try:
        return registry[name]
    except KeyError as exc:
        raise SurveyDefinitionError(f"unknown survey {name!r}; known: {', '.join(sorted(registry))}") from exc


def survey_names(dirs: list[Path] | None = None) -> list[str]:
    return sorted(load_registry(dirs))
