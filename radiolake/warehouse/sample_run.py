"""A synthetic cross-match results folder, written exactly per radiolake/results.py.

The warehouse is tested and benchmarked without Spark: this writes pairs, best, offset_stats, radio_sources,
stars (canonical + standard extra columns + survey) and run.json (last), with values that behave like a real
run (p_chance from separation and stellar density, a mix of stars with good and poor parallaxes, some
without proper motion), so every candidate grade and every mart gets rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime

import cdshealpix.nested as healpix_nested
import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from astropy import units as u
from astropy.coordinates import Latitude, Longitude

from radiolake.crossmatch.likelihood import association_arrays
from radiolake.crossmatch.populations import classes_of, population_names
from radiolake.results import OFFSET_STATS_SCHEMA, PAIRS_SCHEMA
from radiolake.schema import CANONICAL_SCHEMA, HEALPIX_ORDER, STANDARD_EXTRA_FIELDS, coarse_pixel

REGION_ORDER = 3
RADIUS_ARCSEC = 5.0
N_OFFSETS = 10
RADIUS_FRACTIONS = (0.25, 0.5, 0.75, 1.0)  # as radiolake/crossmatch/offsets.py


def _healpix(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    ipix = healpix_nested.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), HEALPIX_ORDER)
    return ipix.astype(np.int64)


def _offset_sky(ra: np.ndarray, dec: np.ndarray, sep_arcsec: np.ndarray, pa_rad: np.ndarray):
    """Small-angle offset: good to far below a milliarcsecond at a few arcsec, except right at the poles."""
    cosd = np.maximum(np.cos(np.radians(dec)), 1e-6)
    dra = sep_arcsec * np.sin(pa_rad) / 3600.0 / cosd
    ddec = sep_arcsec * np.cos(pa_rad) / 3600.0
    return np.mod(ra + dra, 360.0), np.clip(dec + ddec, -90.0, 90.0)


@dataclass
class _Radio:
    """The matched radio sources, and which of them each pair belongs to (`idx`, one entry per pair)."""

    counts: np.ndarray  # stars per radio source (1-3)
    idx: np.ndarray
    ra: np.ndarray
    dec: np.ndarray
    err: np.ndarray
    epoch: np.ndarray
    ids: np.ndarray
    columns: dict

    @property
    def n(self) -> int:
        return len(self.counts)


@dataclass
class _Stars:
    """One star per pair, placed at its separation from the radio source at the radio epoch."""

    sep: np.ndarray
    first: np.ndarray  # the pair is its radio source's first (closest) star
    rank: np.ndarray
    has_pm: np.ndarray
    dt: np.ndarray
    at_ra: np.ndarray
    at_dec: np.ndarray
    err: np.ndarray
    ids: np.ndarray
    astrometry: dict  # what the population classes are read from
    columns: dict


def make_sample_tables(n_pairs: int, seed: int = 0, run_id: str = "sample-run",
                       survey: str = "racs_low") -> tuple[dict[str, pa.Table], dict]:
    """The five tables (keyed by results folder name) and run.json content, in memory.

    One random stream, drawn in a fixed order (radio sources, stars, densities, offset skies), so a seed
    always gives the same run."""
    if n_pairs < 1:
        raise ValueError("n_pairs must be at least 1")
    rng = np.random.default_rng(seed)
    radio = _radio_sources(rng, n_pairs, seed, survey)
    stars = _stars(rng, radio, n_pairs)
    density = rng.lognormal(np.log(3000.0), 1.2, radio.n)[radio.idx]
    tables = {
        "radio_sources": _table(radio.columns, radio.n, _source_schema()),
        "stars": _table(stars.columns, n_pairs, _source_schema()),
        "pairs": _table(_pairs(radio, stars, density, run_id), n_pairs, PAIRS_SCHEMA),
    }
    tables["best"] = tables["pairs"].filter(pa.array(stars.rank == 1))
    offsets, false_total, n_radio_region = _offset_stats(rng, radio, density[stars.first], run_id)
    tables["offset_stats"] = _table(offsets, len(offsets["run_id"]), OFFSET_STATS_SCHEMA)
    run = {
        "run_id": run_id, "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "radio_catalog": survey, "star_catalog": "gaia_dr3", "radius_arcsec": RADIUS_ARCSEC, "n_sigma": None,
        "n_offsets": N_OFFSETS, "offset_arcmin": 3.0, "n_radio": int(n_radio_region.sum()),
        "n_stars": n_pairs * 40, "n_pairs": n_pairs, "n_best": radio.n,
        "expected_false_matches": float(false_total[:, -1].sum() / N_OFFSETS),
        # As the runner pins them (crossmatch.versions): the lake versions the run read.
        "catalog_versions": {"radio": {"catalog": survey, "version": f"v{seed:04d}radio"},
                             "stars": {"catalog": "gaia_dr3", "version": f"v{seed:04d}stars"}},
    }
    return tables, run


def _radio_sources(rng: np.random.Generator, n_pairs: int, seed: int, survey: str) -> _Radio:
    """Matched radio sources evenly over the sky (dec from arcsin of a uniform: uniform per area)."""
    # Each matched radio source has 1-3 stars within the radius; trim the last to hit n_pairs exactly.
    counts = rng.choice([1, 2, 3], size=n_pairs, p=[0.6, 0.3, 0.1])
    counts = counts[: int(np.searchsorted(np.cumsum(counts), n_pairs)) + 1]
    counts[-1] -= int(counts.sum()) - n_pairs
    n_radio = len(counts)
    r_ra = rng.uniform(0.0, 360.0, n_radio)
    r_dec = np.degrees(np.arcsin(rng.uniform(-0.98, 0.98, n_radio)))
    r_err = rng.uniform(0.3, 2.0, n_radio)
    r_epoch = rng.uniform(2019.0, 2024.5, n_radio)
    flux = rng.lognormal(np.log(2.0), 1.0, n_radio)
    v_rng = np.random.default_rng([seed, 5])  # its own stream: the other columns stay as they were
    has_v = v_rng.random(n_radio) < 0.3
    v_fraction = np.where(v_rng.random(n_radio) < 0.2, v_rng.uniform(-0.9, 0.9, n_radio),
                          v_rng.normal(0.0, 0.01, n_radio))
    radio_ids = np.char.add(f"{survey}:", np.arange(n_radio).astype(str)).astype(object)
    columns = {
        "source_id": radio_ids, "ra": r_ra, "dec": r_dec, "ra_error": r_err, "dec_error": r_err * 1.1,
        "epoch": r_epoch, "pmra": None, "pmdec": None, "parallax": None, "parallax_error": None,
        "healpix": _healpix(r_ra, r_dec), "flux_peak_mjy": flux * 0.9, "flux_int_mjy": flux,
        "flux_error_mjy": 0.25 + 0.05 * flux, "freq_mhz": np.full(n_radio, 887.5),
        # Stokes V measured for a third of the sources: mostly weak, a few strongly polarised (stars).
        "flux_v_peak_mjy": pa.array(np.where(has_v, flux * 0.9 * v_fraction, np.nan), from_pandas=True),
        "flux_v_int_mjy": None,
        "flux_v_error_mjy": pa.array(np.where(has_v, 0.25, np.nan), from_pandas=True),
        "phot_g_mean_mag": None, "phot_bp_mean_mag": None, "phot_rp_mean_mag": None, "bp_rp": None,
        "survey": np.full(n_radio, survey, dtype=object),
    }
    idx = np.repeat(np.arange(n_radio), counts)
    return _Radio(counts, idx, r_ra, r_dec, r_err, r_epoch, radio_ids, columns)


def _stars(rng: np.random.Generator, radio: _Radio, n_pairs: int) -> _Stars:
    """One star per pair: the first (rank 1) of each radio source usually close, the others further; a mix
    of proper motions, near and far parallaxes (some missing), magnitudes and colours."""
    sep = rng.uniform(0.0, RADIUS_ARCSEC, n_pairs)
    first = np.r_[True, radio.idx[1:] != radio.idx[:-1]]
    sep[first] = np.abs(rng.normal(0.0, 0.8, int(first.sum())))
    sep = np.minimum(sep, RADIUS_ARCSEC)
    order = np.lexsort((sep, radio.idx))  # sort pairs by radio source then separation -> rank
    sep = sep[order]
    starts = np.r_[0, np.cumsum(radio.counts)[:-1]]
    rank = (np.arange(n_pairs) - np.repeat(starts, radio.counts) + 1).astype(np.int32)
    has_pm = rng.random(n_pairs) > 0.1
    pmra = np.where(has_pm, rng.normal(0.0, 25.0, n_pairs), np.nan)
    pmdec = np.where(has_pm, rng.normal(0.0, 25.0, n_pairs), np.nan)
    near = rng.random(n_pairs) < 0.3
    parallax = np.where(near, rng.uniform(2.0, 120.0, n_pairs), rng.normal(0.3, 0.3, n_pairs))
    parallax_error = rng.uniform(0.02, 0.4, n_pairs)
    has_plx = rng.random(n_pairs) > 0.05
    s_epoch = np.full(n_pairs, 2016.0)
    dt = radio.epoch[radio.idx] - s_epoch
    at_ra, at_dec = _offset_sky(radio.ra[radio.idx], radio.dec[radio.idx], sep, rng.uniform(0, 2 * np.pi, n_pairs))
    move_ra = np.where(has_pm, pmra, 0.0) * dt / 3.6e6 / np.maximum(np.cos(np.radians(at_dec)), 1e-6)
    move_dec = np.where(has_pm, pmdec, 0.0) * dt / 3.6e6
    s_ra = np.mod(at_ra - move_ra, 360.0)
    s_dec = np.clip(at_dec - move_dec, -90.0, 90.0)
    g = rng.uniform(6.0, 20.5, n_pairs)
    bp_rp = rng.uniform(-0.2, 3.5, n_pairs)
    star_ids = np.char.add("gaia_dr3:", (10**15 + np.arange(n_pairs)).astype(str)).astype(object)
    s_err = rng.uniform(0.0001, 0.05, n_pairs)
    columns = {
        "source_id": star_ids, "ra": s_ra, "dec": s_dec, "ra_error": s_err, "dec_error": s_err,
        "epoch": s_epoch, "pmra": pa.array(pmra, from_pandas=True),
        "pmdec": pa.array(pmdec, from_pandas=True),
        "parallax": pa.array(np.where(has_plx, parallax, np.nan), from_pandas=True),
        "parallax_error": pa.array(np.where(has_plx, parallax_error, np.nan), from_pandas=True),
        "healpix": _healpix(s_ra, s_dec), "flux_peak_mjy": None, "flux_int_mjy": None, "flux_error_mjy": None,
        "freq_mhz": None, "flux_v_peak_mjy": None, "flux_v_int_mjy": None, "flux_v_error_mjy": None,
        "phot_g_mean_mag": g, "phot_bp_mean_mag": g + 0.4 * bp_rp,
        "phot_rp_mean_mag": g - 0.6 * bp_rp, "bp_rp": bp_rp,
        "survey": np.full(n_pairs, "gaia_dr3", dtype=object),
    }
    astrometry = {"parallax": np.where(has_plx, parallax, np.nan), "parallax_error": parallax_error, "pmra": pmra,
                  "pmdec": pmdec, "phot_g_mean_mag": g}
    return _Stars(sep, first, rank, has_pm, dt, at_ra, at_dec, s_err, star_ids, astrometry, columns)


def _pairs(radio: _Radio, stars: _Stars, density: np.ndarray, run_id: str) -> dict:
    """The pairs table: separations, chance probability from the stellar density, association results."""
    n_pairs = len(stars.sep)
    sigma_err = np.hypot(radio.err[radio.idx], stars.err)
    p_chance = 1.0 - np.exp(-np.pi * (stars.sep / 3600.0) ** 2 * density)
    # A fifth of the radio sources are matched (see the offset skies); most of those are real.
    lr, prob = association_arrays(radio.ids[radio.idx], stars.sep / sigma_err, sigma_err, density,
                                  np.full(n_pairs, 0.15))
    return {
        "run_id": np.full(n_pairs, run_id, dtype=object), "radio_id": radio.ids[radio.idx],
        "star_id": stars.ids,
        "separation_arcsec": stars.sep, "separation_sigma": stars.sep / sigma_err, "dt_years": stars.dt,
        "pm_applied": stars.has_pm, "rank": stars.rank, "star_density_deg2": density, "p_chance": p_chance,
        "star_ra_at_epoch": stars.at_ra, "star_dec_at_epoch": stars.at_dec,
        "combined_error_arcsec": sigma_err, "likelihood_ratio": lr, "association_probability": prob,
        "population": population_names(classes_of(stars.astrometry, n_pairs)),
    }


def _offset_stats(rng: np.random.Generator, radio: _Radio, density: np.ndarray,
                  run_id: str) -> tuple[dict, np.ndarray, np.ndarray]:
    """Offset skies: per region, all radio sources read there (matched ones are a fifth) and the chance
    matches found in N_OFFSETS shifted copies of the radio catalogue, on the Spark job's grid of radii.
    Returns the table's columns, the false-match counts (region x radius) and the radio sources per region."""
    region_of = coarse_pixel(radio.columns["healpix"], REGION_ORDER)
    regions, matched = np.unique(region_of, return_counts=True)
    n_radio_region = matched * 5
    mean_density = np.bincount(np.searchsorted(regions, region_of), weights=density) / matched
    grid = RADIUS_ARCSEC * np.array(RADIUS_FRACTIONS)  # fractions of the search radius; the last is the radius
    n_reg, n_grid = len(regions), len(grid)
    rate = 1.0 - np.exp(-np.pi * (grid[None, :] / 3600.0) ** 2 * mean_density[:, None])
    false_total = np.minimum.accumulate(  # nested radii: counts grow with radius
        rng.poisson(n_radio_region[:, None] * rate * N_OFFSETS)[:, ::-1], axis=1)[:, ::-1]
    offsets = {
        "run_id": np.full(n_reg * n_grid, run_id, dtype=object),
        "region_order": np.full(n_reg * n_grid, REGION_ORDER, dtype=np.int32),
        "region_pixel": np.repeat(regions, n_grid), "radius_arcsec": np.tile(grid, n_reg),
        "n_offsets": np.full(n_reg * n_grid, N_OFFSETS), "n_radio": np.repeat(n_radio_region, n_grid),
        "false_matches_total": false_total.ravel(),
        "expected_false_matches": false_total.ravel() / N_OFFSETS,
    }
    return offsets, false_total, n_radio_region


def _source_schema() -> pa.Schema:
    return pa.schema([*CANONICAL_SCHEMA, *STANDARD_EXTRA_FIELDS, pa.field("survey", pa.string())])


def _table(columns: dict, n: int, schema: pa.Schema) -> pa.Table:
    arrays = []
    for f in schema:
        value = columns.get(f.name)  # a standard column the sample does not make (e.g. pos_err_*): null
        arrays.append(pa.nulls(n, f.type) if value is None else pa.array(value, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def write_results(path: str, tables: dict[str, pa.Table], run: dict,
                  filesystem: pafs.FileSystem | None = None) -> str:
    """Write tables as `<folder>/part-00000.parquet` and run.json last; `path` is local or `bucket/prefix`."""
    fs = filesystem or pafs.LocalFileSystem()
    if isinstance(fs, pafs.LocalFileSystem):
        path = os.path.abspath(path)
    for name, table in tables.items():
        fs.create_dir(f"{path}/{name}", recursive=True)
        pq.write_table(table, f"{path}/{name}/part-00000.parquet", filesystem=fs)
    with fs.open_output_stream(f"{path}/run.json") as f:
        f.write(json.dumps(run, indent=1).encode())
    return path


def write_sample_run(path: str, n_pairs: int = 1000, seed: int = 0, run_id: str | None = None,
                     survey: str = "racs_low", filesystem: pafs.FileSystem | None = None) -> dict:
    """Write a synthetic results folder at `path`; returns its run.json content."""
    tables, run = make_sample_tables(n_pairs, seed=seed, run_id=run_id or f"sample-{seed}-{n_pairs}",
                                     survey=survey)
    write_results(path, tables, run, filesystem)
    return run
