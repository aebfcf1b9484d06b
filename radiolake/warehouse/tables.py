"""What the warehouse takes from a cross-match results folder, table by table.

One place maps each results sub-folder (radiolake/results.py) onto its `load.*` table: the columns copied (in
the DDL's order), which must be present and non-null, and the key that must be unique within a run. The
validator, the loader and the synthetic run generator all read this, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from radiolake.schema import CANONICAL_SCHEMA, STANDARD_EXTRA_FIELDS

_EXTRA = {f.name: f.type for f in STANDARD_EXTRA_FIELDS}
_CANON = {f.name: f.type for f in CANONICAL_SCHEMA}


@dataclass(frozen=True)
class LoadTable:
    """One results sub-folder and the `load.<name>` table it is copied into."""

    name: str  # sub-folder of the results folder and table name in schema `load`
    columns: tuple[tuple[str, pa.DataType], ...]  # copied columns, in table order (run_id first)
    required: frozenset[str]  # must be present in the files and never null/NaN
    key: tuple[str, ...]  # unique within a run (the table's primary key is run_id + key)
    run_id_in_files: bool  # the files carry run_id (checked against run.json) or the loader adds it
    all_columns_present: bool = True  # False: optional columns may be absent (survey-specific extras)

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]


def _cols(names: list[str], types: dict[str, pa.DataType]) -> tuple[tuple[str, pa.DataType], ...]:
    return tuple((n, types[n]) for n in names)


_RADIO_TYPES = {**_CANON, **_EXTRA, "run_id": pa.string(), "survey": pa.string()}
_PAIR_TYPES = {f.name: f.type for f in PAIRS_SCHEMA}
_OFFSET_TYPES = {f.name: f.type for f in OFFSET_STATS_SCHEMA}

RADIO_SOURCES = LoadTable(
    name="radio_sources",
    columns=_cols(["run_id", "source_id", "survey", "ra", "dec", "ra_error", "dec_error", "epoch", "healpix",
                   "flux_peak_mjy", "flux_int_mjy", "flux_error_mjy", "freq_mhz", "flux_v_peak_mjy",
                   "flux_v_int_mjy", "flux_v_error_mjy"], _RADIO_TYPES),
    required=frozenset({"source_id", "survey", "ra", "dec", "epoch", "healpix"}),
    key=("source_id",),
    run_id_in_files=False,
    all_columns_present=False,
)

STARS = LoadTable(
    name="stars",
    columns=_cols(["run_id", "source_id", "survey", "ra", "dec", "ra_error", "dec_error", "epoch", "pmra",
                   "pmdec", "parallax", "parallax_error", "healpix", "phot_g_mean_mag", "phot_bp_mean_mag",
                   "phot_rp_mean_mag", "bp_rp"], _RADIO_TYPES),
    required=frozenset({"source_id", "survey", "ra", "dec", "epoch", "healpix"}),
    key=("source_id",),
    run_id_in_files=False,
    all_columns_present=False,
)

OFFSET_STATS = LoadTable(
    name="offset_stats",
    # region_ra/region_dec are not in the files: the loader adds the pixel centre for maps.
    columns=_cols([f.name for f in OFFSET_STATS_SCHEMA][:3], _OFFSET_TYPES)
    + (("region_ra", pa.float64()), ("region_dec", pa.float64()))
    + _cols([f.name for f in OFFSET_STATS_SCHEMA][3:], _OFFSET_TYPES),
    required=frozenset(f.name for f in OFFSET_STATS_SCHEMA),
    key=("region_order", "region_pixel", "radius_arcsec"),  # one row per region and radius of a grid
    run_id_in_files=True,
)

PAIRS = LoadTable(
    name="pairs",
    columns=_cols([f.name for f in PAIRS_SCHEMA], _PAIR_TYPES),
    required=frozenset(f.name for f in PAIRS_SCHEMA if not f.nullable),
    key=("radio_id", "star_id"),
    run_id_in_files=True,
)

BEST = LoadTable(
    name="best",
    columns=PAIRS.columns,
    required=PAIRS.required,
    key=("radio_id",),
    run_id_in_files=True,
)

#: Load order: a killed load is rolled back whole anyway; pairs and best (the big ones) go last.
LOAD_TABLES: tuple[LoadTable, ...] = (RADIO_SOURCES, STARS, OFFSET_STATS, PAIRS, BEST)

#: Columns that are added by the loader, not read from the files.
DERIVED_COLUMNS = frozenset({"run_id", "region_ra", "region_dec"})

#: Columns whose values must lie in a range (inclusive bounds; None = open), checked before loading.
RANGES: dict[str, tuple[float | None, float | None]] = {
    "ra": (0.0, 360.0),
    "dec": (-90.0, 90.0),
    "separation_arcsec": (0.0, None),
    "separation_sigma": (0.0, None),
    "p_chance": (0.0, 1.0),
    "association_probability": (0.0, 1.0),
    "likelihood_ratio": (0.0, None),
    "combined_error_arcsec": (0.0, None),
    "star_density_deg2": (0.0, None),
    "rank": (1, None),
    "n_offsets": (0, None),
    "n_radio": (0, None),
    "false_matches_total": (0, None),
    "expected_false_matches": (0.0, None),
    "radius_arcsec": (0.0, None),
}
