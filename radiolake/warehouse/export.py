"""`radiolake export`: candidates and radio stars from the marts as files other tools open (TOPCAT, papers).

One astropy Table per export carries each column's unit, UCD and description (the description from the dbt
docs in dbt/models/marts/marts.yml, the one place columns are documented), plus two link columns per row: the
star in the ESA Gaia archive and in SIMBAD (radiolake.links). astropy writes VOTable (units + UCDs, what TOPCAT
reads best), FITS (units), CSV and Parquet from that same table, so every format carries the same columns.

The query is built from a fixed allow-list of marts and columns; run ids, grades and limits are bound
parameters, never pasted into SQL.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from astropy.table import MaskedColumn, Table

from radiolake.links import star_links

Mart = Literal["candidates", "radio_stars"]
Format = Literal["votable", "fits", "csv", "parquet"]
FORMATS: dict[str, str] = {"votable": "votable", "fits": "fits", "csv": "ascii.csv", "parquet": "parquet"}
SUFFIXES: dict[str, str] = {"votable": ".vot", "fits": ".fits", "csv": ".csv", "parquet": ".parquet"}


@dataclass(frozen=True)
class MartSpec:
    """How one mart is exported: its table, ordering, grade column, and where a row's star sits on the sky."""

    table: str
    order_by: str
    grade_column: str
    has_runs: bool
    #: Position used for the SIMBAD cone when SIMBAD does not know the star id.
    ra_column: str
    dec_column: str


MARTS: dict[str, MartSpec] = {
    "candidates": MartSpec("radio_star_candidates",
                           "grade, association_probability DESC NULLS LAST, p_chance, separation_arcsec, candidate_key",
                           "grade", True, "radio_ra_deg", "radio_dec_deg"),
    "radio_stars": MartSpec("radio_stars", "star_grade, n_detections DESC, best_association_probability DESC NULLS "
                            "LAST, star_id", "star_grade", False, "star_ra_deg", "star_dec_deg"),
}

_RADIO = "phot.flux.density;em.radio"
_LUMINOSITY = ("erg / (s Hz)", "phys.luminosity;em.radio;stat.max")
#: Unit and UCD (IVOA UCD1+) of every column of the exported marts, declared here once: unit None means a
#: dimensionless number, a code or text. tests/unit/warehouse/test_export.py checks that every column the dbt
#: docs list for an exported mart is declared and that each UCD is valid; tests/integration/test_export.py
#: that every column the real marts return is. A column left out is exported bare (and fails those tests).
COLUMN_META: dict[str, tuple[str | None, str]] = {
    "candidate_key": (None, "meta.id"),
    "run_id": (None, "meta.id;meta.dataset"),
    "is_latest_run": (None, "meta.code"),
    "survey": (None, "meta.id;instr.setup"),
    "surveys": (None, "meta.id;instr.setup"),
    "star_catalog": (None, "meta.id;meta.dataset"),
    "radio_id": (None, "meta.id;meta.main"),
    "star_id": (None, "meta.id.cross"),
    # One row per physical star (radio_stars): every catalogue star merged into it, and its ids in each.
    "catalogue_star_ids": (None, "meta.id.cross"),
    "n_catalogue_stars": (None, "meta.number"),
    "gaia_source_id": (None, "meta.id.cross"),
    "hip_id": (None, "meta.id.cross"),
    "max_identity_separation_arcsec": ("arcsec", "pos.angDistance;stat.max"),
    "radio_ra_deg": ("deg", "pos.eq.ra;meta.main"),
    "radio_dec_deg": ("deg", "pos.eq.dec;meta.main"),
    "radio_epoch_jyear": ("yr", "time.epoch"),
    "star_ra_deg": ("deg", "pos.eq.ra;meta.main"),
    "star_dec_deg": ("deg", "pos.eq.dec;meta.main"),
    "star_epoch_jyear": ("yr", "time.epoch"),
    "separation_arcsec": ("arcsec", "pos.angDistance"),
    "min_separation_arcsec": ("arcsec", "pos.angDistance;stat.min"),
    "separation_sigma": (None, "pos.angDistance;arith.ratio"),
    "combined_error_arcsec": ("arcsec", "stat.error;pos"),
    "p_chance": (None, "stat.probability"),
    "min_p_chance": (None, "stat.probability;stat.min"),
    "association_probability": (None, "stat.probability"),
    "best_association_probability": (None, "stat.probability;stat.max"),
    "likelihood_ratio": (None, "stat.likelihood"),
    "dt_years": ("yr", "time.interval"),
    "pm_applied": (None, "meta.code"),
    "parallax_mas": ("mas", "pos.parallax"),
    "parallax_error_mas": ("mas", "stat.error;pos.parallax"),
    "parallax_snr": (None, "stat.snr;pos.parallax"),
    "distance_pc": ("pc", "pos.distance"),
    "phot_g_mag": ("mag", "phot.mag;em.opt"),
    "phot_bp_mag": ("mag", "phot.mag;em.opt.B"),
    "phot_rp_mag": ("mag", "phot.mag;em.opt.R"),
    "abs_g_mag": ("mag", "phys.magAbs;em.opt"),
    "bp_rp_mag": ("mag", "phot.color;em.opt.B;em.opt.R"),
    "pmra_mas_yr": ("mas/yr", "pos.pm;pos.eq.ra"),
    "pmdec_mas_yr": ("mas/yr", "pos.pm;pos.eq.dec"),
    "pm_total_mas_yr": ("mas/yr", "pos.pm"),
    "flux_mjy": ("mJy", _RADIO),
    "flux_min_mjy": ("mJy", f"{_RADIO};stat.min"),
    "flux_max_mjy": ("mJy", f"{_RADIO};stat.max"),
    "flux_max_min_ratio": (None, f"{_RADIO};arith.ratio"),
    "max_flux_ratio_same_freq": (None, f"{_RADIO};arith.ratio"),
    "freq_mhz": ("MHz", "em.freq"),
    "freq_min_mhz": ("MHz", "em.freq;stat.min"),
    "freq_max_mhz": ("MHz", "em.freq;stat.max"),
    "variability_freq_mhz": ("MHz", "em.freq"),
    "variability_n_detections": (None, "meta.number"),
    "first_epoch_jyear": ("yr", "time.epoch;stat.min"),
    "last_epoch_jyear": ("yr", "time.epoch;stat.max"),
    "radio_luminosity_erg_s_hz": ("erg / (s Hz)", "phys.luminosity;em.radio"),
    "max_radio_luminosity_erg_s_hz": _LUMINOSITY,
    # The brightest detection's luminosity in each band of dbt/macros/radio_bands.sql.
    "radio_luminosity_lt300mhz_erg_s_hz": _LUMINOSITY,
    "radio_luminosity_300_1000mhz_erg_s_hz": _LUMINOSITY,
    "radio_luminosity_1_2ghz_erg_s_hz": _LUMINOSITY,
    "radio_luminosity_2_4ghz_erg_s_hz": _LUMINOSITY,
    "radio_luminosity_ge4ghz_erg_s_hz": _LUMINOSITY,
    "n_detections": (None, "meta.number"),
    "n_secure_detections": (None, "meta.number"),
    "secure_detection_min_probability": (None, "stat.probability;stat.min"),
    "population": (None, "src.class"),
    "n_surveys": (None, "meta.number"),
    "n_runs": (None, "meta.number"),
    "n_circular_polarisation_detections": (None, "meta.number"),
    "max_circular_polarisation_fraction": (None, "phys.polarization.circular;stat.max"),
    "max_circular_polarisation_fraction_error": (None, "stat.error;phys.polarization.circular"),
    "max_circular_polarisation_snr": (None, "stat.snr;phys.polarization.circular"),
    "circular_polarisation_min_snr": (None, "stat.snr;stat.min"),
    "has_high_circular_polarisation": (None, "meta.code"),
    "flux_modulation_index": (None, "src.var.index"),
    "flux_modulation_index_error": (None, "stat.error;src.var.index"),
    "flux_variability_eta": (None, "src.var"),
    "is_variable": (None, "meta.code"),
    "star_evidence": (None, "meta.note"),
    "region_key": (None, "meta.id"),
    "detections_built_at": (None, "time.processing"),
    "star_density_deg2": ("deg-2", "src.density"),
    "region_false_match_rate": (None, "stat.probability"),
    "grade": (None, "meta.code.qual"),
    "star_grade": (None, "meta.code.qual"),
    "best_candidate_grade": (None, "meta.code.qual"),
    "gaia_url": (None, "meta.ref.url"),
    "simbad_url": (None, "meta.ref.url"),
}
LINK_DESCRIPTIONS = {
    "gaia_url": "The star in the ESA Gaia archive (gaiadr3.gaia_source by source_id); empty for non-Gaia stars.",
    "simbad_url": "The star in SIMBAD: by identifier (Gaia DR3, HIP), else objects around its position.",
}

# Postgres type OIDs -> how the column is held (psycopg returns Python objects; the OID also types empty results).
_BOOL, _INTS, _FLOATS = {16}, {20, 21, 23}, {700, 701, 1700}


class ExportError(ValueError):
    """The export cannot be made as asked (unknown mart or format, no warehouse); the message says what to do."""


def select_sql(mart: str, *, run_id: str | None, latest: bool, grades: Sequence[str], limit: int | None):
    """(psycopg SQL object, parameters) reading `mart`: identifiers from MARTS, every value a bound parameter."""
    from psycopg import sql

    spec = _spec(mart)
    where, params = [], []
    if run_id is not None:
        if not spec.has_runs:
            raise ExportError(f"--run applies to candidates only; {mart} spans every run loaded")
        where.append(sql.SQL("run_id = %s"))
        params.append(run_id)
    if latest and spec.has_runs:
        where.append(sql.SQL("is_latest_run"))
    if grades:
        where.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(spec.grade_column)))
        params.append(list(grades))
    query = sql.SQL("SELECT * FROM {}.{}").format(sql.Identifier("marts"), sql.Identifier(spec.table))
    if where:
        query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(where)
    query += sql.SQL(" ORDER BY " + spec.order_by)  # a constant of MARTS, no caller text
    if limit is not None:
        query += sql.SQL(" LIMIT %s")
        params.append(int(limit))
    return query, params


def fetch(dsn: str, mart: str, *, run_id: str | None = None, latest: bool = False,
          grades: Sequence[str] = (), limit: int | None = None) -> tuple[list[str], list[int], list[tuple]]:
    """(column names, Postgres type OIDs, rows) of one mart, read with `dsn` (the analyst role is enough)."""
    import psycopg

    query, params = select_sql(mart, run_id=run_id, latest=latest, grades=grades, limit=limit)
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        names = [d.name for d in cur.description]
        oids = [d.type_code for d in cur.description]
        return names, oids, cur.fetchall()


def build_table(mart: str, names: Sequence[str], oids: Sequence[int], rows: Sequence[Sequence],
                descriptions: dict[str, str] | None = None) -> Table:
    """An astropy Table of the rows with units, UCDs, descriptions, and the Gaia/SIMBAD link columns."""
    spec = _spec(mart)
    descriptions = column_descriptions(spec.table) if descriptions is None else descriptions
    table = Table(meta={"name": f"marts.{spec.table}",
                        "description": f"radiolake export of marts.{spec.table} ({len(rows)} rows)"})
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    for name, oid, values in zip(names, oids, columns, strict=True):
        table[name] = _column(name, oid, values, descriptions.get(name))
    links = [_links(row, names, spec) for row in rows]
    for key in ("gaia_url", "simbad_url"):
        table[key] = _column(key, 25, [link[key] for link in links], LINK_DESCRIPTIONS[key])
    return table


def write_table(table: Table, path: Path, fmt: Format) -> Path:
    """Write `table` as `fmt` to `path` (replaced if there), through a temporary name so no half file remains."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial{SUFFIXES[fmt]}")
    out = table
    if fmt in ("fits", "csv"):
        out = table.copy(copy_data=False)
        if fmt == "fits":  # FITS header keywords have 8 characters: the table's name as EXTNAME, text as COMMENT
            out.meta = {"EXTNAME": table.meta.get("name", "EXPORT"), "COMMENT": [table.meta.get("description", "")]}
        for name in out.colnames:  # FITS and CSV have no null booleans: store them as 0/1 with a mask
            if out[name].dtype == bool and getattr(out[name], "mask", None) is not None and out[name].mask.any():
                out[name] = MaskedColumn(np.asarray(out[name].filled(False), dtype=np.int16),
                                         mask=np.asarray(out[name].mask), fill_value=-1,  # FITS TNULL
                                         unit=out[name].unit, description=out[name].description,
                                         meta=out[name].meta)
    try:
        out.write(tmp, format=FORMATS[fmt], overwrite=True)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def export(dsn: str, mart: str, fmt: Format, path: Path, *, run_id: str | None = None, latest: bool = False,
           grades: Sequence[str] = (), limit: int | None = None) -> tuple[Path, int]:
    """Read one mart and write it as `fmt` to `path`; returns (path, rows written)."""
    if not dsn:
        raise ExportError("warehouse not configured: set RADIOLAKE_ANALYST_DSN (or RADIOLAKE_WAREHOUSE_DSN), "
                          "or run `radiolake stack up`")
    names, oids, rows = fetch(dsn, mart, run_id=run_id, latest=latest, grades=grades, limit=limit)
    table = build_table(mart, names, oids, rows)
    return write_table(table, path, fmt), len(table)


def format_for(path: Path) -> Format:
    """The format a file name asks for by its suffix."""
    suffix = Path(path).suffix.lower()
    by_suffix = {".vot": "votable", ".xml": "votable", ".votable": "votable", ".fits": "fits", ".fit": "fits",
                 ".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
    if suffix not in by_suffix:
        raise ExportError(f"cannot tell the format from {Path(path).name!r}: add --format votable|fits|csv|parquet "
                          "or name the file .vot, .fits, .csv or .parquet")
    return by_suffix[suffix]  # type: ignore[return-value]


def column_descriptions(model: str) -> dict[str, str]:
    """Column descriptions of a mart from the dbt docs (dbt/models/marts/marts.yml); {} when not shipped."""
    import yaml

    from radiolake.config import repo_root

    path = repo_root() / "dbt" / "models" / "marts" / "marts.yml"
    if not path.is_file():
        return {}
    for node in yaml.safe_load(path.read_text()).get("models", []):
        if node.get("name") == model:
            return {c["name"]: " ".join(str(c.get("description", "")).split())
                    for c in node.get("columns", []) if c.get("description")}
    return {}


def undeclared_columns(names: Sequence[str]) -> list[str]:
    """The columns among `names` without a unit/UCD declaration in COLUMN_META (they would be exported bare)."""
    return [name for name in names if name not in COLUMN_META]


def _spec(mart: str) -> MartSpec:
    try:
        return MARTS[mart]
    except KeyError:
        raise ExportError(f"unknown table {mart!r}; choose one of {', '.join(MARTS)}") from None


def _column(name: str, oid: int, values: Sequence, description: str | None) -> MaskedColumn:
    unit, ucd = COLUMN_META.get(name, (None, None))
    mask = np.array([v is None for v in values], dtype=bool)
    if oid in _BOOL:
        data = np.array([bool(v) if v is not None else False for v in values], dtype=bool)
    elif oid in _INTS:
        data = np.array([int(v) if v is not None else 0 for v in values], dtype=np.int64)
    elif oid in _FLOATS:
        data = np.array([float(v) if v is not None else np.nan for v in values], dtype=np.float64)
    else:  # text, timestamps (ISO 8601), anything else as its text
        data = np.array([_text(v) for v in values], dtype=str)
        if data.dtype.itemsize == 0:
            data = data.astype("U1")
    meta = {"ucd": ucd} if ucd else {}
    return MaskedColumn(data, name=name, mask=mask, unit=unit, description=description, meta=meta)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def _links(row: Sequence, names: Sequence[str], spec: MartSpec) -> dict[str, str | None]:
    values = dict(zip(names, row, strict=True))
    ra, dec = values.get(spec.ra_column), values.get(spec.dec_column)
    return star_links(values.get("star_id"), None if ra is None else float(ra), None if dec is None else float(dec))
