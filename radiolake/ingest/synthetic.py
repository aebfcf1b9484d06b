"""A synthetic sky with a known answer, for offline use, tests, demos and benchmarks.

Stars: Gaia-like (G, BP-RP, parallax, proper motion, errors growing with G), denser toward the galactic
plane, a few fast movers, at epoch J2016.0. Radio: isotropic background sources plus radio stars placed at
their host star's position propagated to the radio row's epoch and seen from the Earth on that date (annual
parallax of the host's true distance), displaced by radio positional noise drawn
with the row's own ra_error/dec_error. The truth table says which radio source is which star.

Deterministic by seed, independent of how the output is consumed: stars are generated in fixed chunks of
`CHUNK` rows, each from its own `numpy.random.default_rng([seed, stream, chunk])`, so any chunk (e.g. the one
holding a radio star's host) can be regenerated alone. Memory stays at a few chunks for any size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
from astropy.coordinates import SkyCoord

from radiolake.ingest.region import Region, parse_region

CHUNK = 100_000
STAR_EPOCH = 2016.0
RADIO_EPOCHS = (2019.3, 2024.9)  # radio rows observed uniformly in this span (Julian years)
RADIO_FREQ_MHZ = 887.5
FAST_HOST_FRACTION = 0.2  # of radio stars, hosted by fast movers (so proper motion matters in a match)
FAST_FIELD_FRACTION = 5e-4  # of all stars
RADIO_RMS_MJY = 0.25
K_KMS = 4.740470  # km/s per (AU/yr)

# Streams of the seed sequence; never reuse one for two purposes.
_STARS, _HOSTS, _RADIO_BG, _RADIO_STARS, _IDS = 1, 2, 3, 4, 5


def _galactic_pole() -> np.ndarray:
    pole = SkyCoord(l=0.0, b=90.0, unit="deg", frame="galactic").icrs
    return np.array(
        [
            np.cos(pole.dec.rad) * np.cos(pole.ra.rad),
            np.cos(pole.dec.rad) * np.sin(pole.ra.rad),
            np.sin(pole.dec.rad),
        ]
    )


_NGP = _galactic_pole()


def sin_galactic_latitude(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    r, d = np.radians(ra), np.radians(dec)
    return np.cos(d) * np.cos(r) * _NGP[0] + np.cos(d) * np.sin(r) * _NGP[1] + np.sin(d) * _NGP[2]


def star_density(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Relative stellar density: a floor plus a disc falling off with |sin b| (max 1 at b = 0)."""
    return (0.15 + np.exp(-np.abs(sin_galactic_latitude(ra, dec)) / 0.12)) / 1.15


def propagate_linear(
    ra: np.ndarray, dec: np.ndarray, pmra: np.ndarray, pmdec: np.ndarray, dt_years: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move positions by proper motion (pmra includes cos dec, mas/yr) over dt years: straight-line motion
    on the tangent plane, renormalised. Same as astropy's apply_space_motion with zero radial velocity."""
    r, d = np.radians(ra), np.radians(dec)
    pos = np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])
    east = np.stack([-np.sin(r), np.cos(r), np.zeros_like(r)])
    north = np.stack([-np.sin(d) * np.cos(r), -np.sin(d) * np.sin(r), np.cos(d)])
    mas = np.pi / 180 / 3600e3
    moved = pos + dt_years * mas * (pmra * east + pmdec * north)
    moved /= np.linalg.norm(moved, axis=0)
    return np.degrees(np.arctan2(moved[1], moved[0])) % 360.0, np.degrees(np.arcsin(np.clip(moved[2], -1, 1)))


def seen_from_earth(
    ra: np.ndarray, dec: np.ndarray, parallax_mas: np.ndarray, epoch_jyear: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where the Earth sees a star of this (true) parallax on that date: the star's barycentric direction at
    1/parallax minus the Earth's barycentric position (ERFA epv00, what astropy's get_body_barycentric uses).
    A radio telescope sees a nearby radio star there: up to its parallax away from the catalogue direction."""
    import erfa  # astropy's own dependency

    r, d = np.radians(ra), np.radians(dec)
    pos = np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)], axis=-1)
    epoch = np.asarray(epoch_jyear, dtype=np.float64)
    _, pvb = erfa.epv00(np.full(epoch.size, 2451545.0), (epoch - 2000.0) * 365.25)
    seen = pos - (np.radians(np.asarray(parallax_mas, dtype=np.float64) / 3.6e6))[:, None] * pvb["p"]
    seen /= np.linalg.norm(seen, axis=-1, keepdims=True)
    return np.degrees(np.arctan2(seen[:, 1], seen[:, 0])) % 360.0, np.degrees(np.arcsin(np.clip(seen[:, 2], -1, 1)))


def offset_position(
    ra: np.ndarray, dec: np.ndarray, dra_arcsec: np.ndarray, ddec_arcsec: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Shift positions by small on-sky offsets (east, north, arcsec) — a 'proper motion' over 1 yr."""
    return propagate_linear(ra, dec, dra_arcsec * 1e3, ddec_arcsec * 1e3, np.ones_like(ra))


def _uniform_in_region(
    rng: np.random.Generator, region: Region, n: int, weight=None
) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform on the sphere inside `region`, thinned by `weight(ra, dec)` in [0, 1] if given."""
    ra_min, ra_max, dec_min, dec_max = region.bounding_box()
    width = (ra_max - ra_min) % 360 or 360.0
    smin, smax = np.sin(np.radians(dec_min)), np.sin(np.radians(dec_max))
    out_ra, out_dec, have = [], [], 0
    while have < n:
        m = max(1024, 2 * (n - have))
        ra = (ra_min + rng.random(m) * width) % 360.0
        dec = np.degrees(np.arcsin(smin + rng.random(m) * (smax - smin)))
        keep = region.contains(ra, dec)
        if weight is not None:
            keep &= rng.random(m) < weight(ra, dec)
        out_ra.append(ra[keep])
        out_dec.append(dec[keep])
        have += int(keep.sum())
    return np.concatenate(out_ra)[:n], np.concatenate(out_dec)[:n]


STAR_SCHEMA = pa.schema(
    [
        ("source_id", pa.int64()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("ra_error", pa.float64()),
        ("dec_error", pa.float64()),
        ("epoch", pa.float64()),
        ("pmra", pa.float64()),
        ("pmdec", pa.float64()),
        ("parallax", pa.float64()),
        ("parallax_error", pa.float64()),
        ("phot_g_mean_mag", pa.float64()),
        ("bp_rp", pa.float64()),
    ]
)
RADIO_SCHEMA = pa.schema(
    [
        ("source_id", pa.int64()),
        ("ra", pa.float64()),
        ("dec", pa.float64()),
        ("ra_error", pa.float64()),
        ("dec_error", pa.float64()),
        ("epoch", pa.float64()),
        ("flux_peak_mjy", pa.float64()),
        ("flux_int_mjy", pa.float64()),
        ("freq_mhz", pa.float64()),
    ]
)
TRUTH_SCHEMA = pa.schema(
    [
        ("radio_id", pa.string()),
        ("star_id", pa.string()),
        ("radio_epoch", pa.float64()),
        ("star_ra_at_epoch", pa.float64()),
        ("star_dec_at_epoch", pa.float64()),
        ("noise_offset_arcsec", pa.float64()),
        ("pm_total_mas_yr", pa.float64()),
        ("fast_mover", pa.bool_()),
        ("star_parallax_mas", pa.float64()),  # the host's true parallax (its catalogue value carries noise)
    ]
)


def _radio_errors(rng: np.random.Generator, flux_peak: np.ndarray) -> np.ndarray:
    """1-sigma positional error (arcsec) per axis: a calibration floor plus beam / (2 SNR)."""
    snr = flux_peak / RADIO_RMS_MJY
    return np.sqrt(0.4**2 + (15.0 / (2 * snr)) ** 2) * rng.uniform(0.9, 1.1, len(flux_peak))


@dataclass(frozen=True)
class SyntheticSky:
    n_stars: int
    n_radio_background: int
    n_radio_stars: int
    seed: int
    region: Region = Region("all")

    def __post_init__(self) -> None:
        if min(self.n_stars, self.n_radio_background, self.n_radio_stars) < 0:
            raise ValueError("synthetic sky sizes must be >= 0")
        if self.n_radio_stars > self.n_stars:
            raise ValueError(f"n_radio_stars ({self.n_radio_stars}) > n_stars ({self.n_stars})")

    @property
    def n_radio(self) -> int:
        return self.n_radio_background + self.n_radio_stars

    @cached_property
    def _hosts(self) -> dict[str, np.ndarray]:
        """Host star indices (sorted) with the kinematics forced on them (nearby; some fast)."""
        rng = np.random.default_rng([self.seed, _HOSTS])
        idx = (
            np.sort(rng.choice(self.n_stars, size=self.n_radio_stars, replace=False))
            if self.n_radio_stars
            else np.empty(0, np.int64)
        )
        n = len(idx)
        fast = rng.random(n) < FAST_HOST_FRACTION
        parallax = np.where(fast, rng.uniform(40, 200, n), 10 ** rng.uniform(0, 1.7, n))  # mas
        vt = np.where(fast, rng.uniform(60, 150, n), rng.normal(0, 30, n))  # km/s
        angle = rng.uniform(0, 2 * np.pi, n)
        pm = vt * parallax / K_KMS
        return {
            "index": idx.astype(np.int64),
            "fast": fast,
            "parallax": parallax,
            "pmra": pm * np.cos(angle),
            "pmdec": pm * np.sin(angle),
            "G": np.where(fast, rng.uniform(6, 12, n), rng.uniform(5, 15, n)),
        }

    def _star_chunk(self, chunk: int) -> dict[str, np.ndarray]:
        start = chunk * CHUNK
        n = min(CHUNK, self.n_stars - start)
        rng = np.random.default_rng([self.seed, _STARS, chunk])
        ra, dec = _uniform_in_region(rng, self.region, n, weight=star_density)
        a, gmin, gmax = 0.35, 6.0, 20.7
        g = np.log10(rng.random(n) * (10 ** (a * gmax) - 10 ** (a * gmin)) + 10 ** (a * gmin)) / a
        dist_kpc = np.clip(rng.lognormal(np.log(1.5), 0.8, n), 0.01, 30.0)
        fast = rng.random(n) < FAST_FIELD_FRACTION
        dist_kpc = np.where(fast, rng.uniform(0.01, 0.06, n), dist_kpc)
        speed, angle = rng.uniform(80, 250, n), rng.uniform(0, 2 * np.pi, n)  # fast movers: km/s
        v_ra = np.where(fast, speed * np.cos(angle), rng.normal(0, 25, n))
        v_dec = np.where(fast, speed * np.sin(angle), rng.normal(0, 25, n))
        pmra, pmdec = v_ra / (K_KMS * dist_kpc), v_dec / (K_KMS * dist_kpc)  # mas/yr
        parallax_true = 1.0 / dist_kpc
        # Radio-star hosts in this chunk get their forced kinematics (identical in every regeneration).
        h = self._hosts
        lo, hi = np.searchsorted(h["index"], [start, start + n])
        local = h["index"][lo:hi] - start
        parallax_true[local], pmra[local], pmdec[local] = (
            h["parallax"][lo:hi],
            h["pmra"][lo:hi],
            h["pmdec"][lo:hi],
        )
        g[local] = h["G"][lo:hi]
        ast_err_mas = np.clip(0.02 * 10 ** (0.2 * (g - 15)), 0.008, 3.0)
        plx_err = np.clip(1.3 * ast_err_mas, 0.01, 4.0)
        return {
            "source_id": np.arange(start, start + n, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "ra_error": ast_err_mas / 1e3,
            "dec_error": ast_err_mas * rng.uniform(0.8, 1.2, n) / 1e3,
            "epoch": np.full(n, STAR_EPOCH),
            "pmra": pmra,
            "pmdec": pmdec,
            "parallax": parallax_true + rng.normal(0, 1, n) * plx_err,
            "parallax_error": plx_err,
            "phot_g_mean_mag": g,
            "bp_rp": rng.normal(1.0, 0.45, n) + 0.08 * (g - 15),
        }

    def stars(self) -> Iterator[pa.RecordBatch]:
        """All stars, CHUNK rows a batch."""
        for chunk in range(-(-self.n_stars // CHUNK)):
            yield pa.RecordBatch.from_pydict(self._star_chunk(chunk), schema=STAR_SCHEMA)

    @cached_property
    def _radio_ids(self) -> np.ndarray:
        """Radio ids shuffled so that background and stars cannot be told apart by id."""
        return np.random.default_rng([self.seed, _IDS]).permutation(self.n_radio).astype(np.int64)

    @cached_property
    def _radio_star_rows(self) -> tuple[dict[str, np.ndarray], pa.Table]:
        h = self._hosts
        n = len(h["index"])
        cols: dict[str, list[np.ndarray]] = {k: [] for k in ("ra", "dec", "pmra", "pmdec")}
        for chunk in np.unique(h["index"] // CHUNK):
            stars = self._star_chunk(int(chunk))
            sel = h["index"][h["index"] // CHUNK == chunk] - chunk * CHUNK
            for k in cols:
                cols[k].append(stars[k][sel])
        star = {k: np.concatenate(v) if v else np.empty(0) for k, v in cols.items()}
        rng = np.random.default_rng([self.seed, _RADIO_STARS])
        epoch = rng.uniform(*RADIO_EPOCHS, n)
        flux = RADIO_RMS_MJY * rng.uniform(6, 60, n)
        err = _radio_errors(rng, flux)
        ra_true, dec_true = seen_from_earth(
            *propagate_linear(star["ra"], star["dec"], star["pmra"], star["pmdec"], epoch - STAR_EPOCH),
            h["parallax"], epoch,
        )
        dra, ddec = rng.normal(0, 1, n) * err, rng.normal(0, 1, n) * err
        ra, dec = offset_position(ra_true, dec_true, dra, ddec)
        ids = self._radio_ids[self.n_radio_background :]
        rows = {
            "source_id": ids,
            "ra": ra,
            "dec": dec,
            "ra_error": err,
            "dec_error": err,
            "epoch": epoch,
            "flux_peak_mjy": flux,
            "flux_int_mjy": flux * (1 + np.abs(rng.normal(0, 0.05, n))),
            "freq_mhz": np.full(n, RADIO_FREQ_MHZ),
        }
        truth = pa.table(
            {
                "radio_id": ids,
                "star_id": h["index"],
                "radio_epoch": epoch,
                "star_ra_at_epoch": ra_true,
                "star_dec_at_epoch": dec_true,
                "noise_offset_arcsec": np.hypot(dra, ddec),
                "pm_total_mas_yr": np.hypot(star["pmra"], star["pmdec"]),
                "fast_mover": h["fast"],
                "star_parallax_mas": h["parallax"],
            }
        )
        return rows, truth

    def radio(self) -> Iterator[pa.RecordBatch]:
        """Background sources (CHUNK a batch), then the radio stars."""
        ids = self._radio_ids
        for chunk in range(-(-self.n_radio_background // CHUNK)):
            start = chunk * CHUNK
            n = min(CHUNK, self.n_radio_background - start)
            rng = np.random.default_rng([self.seed, _RADIO_BG, chunk])
            ra, dec = _uniform_in_region(rng, self.region, n)
            flux = 5 * RADIO_RMS_MJY * (1 - rng.random(n)) ** (-1 / 0.9)  # dN/dS ~ S^-1.9 above 5 sigma
            err = _radio_errors(rng, flux)
            yield pa.RecordBatch.from_pydict(
                {
                    "source_id": ids[start : start + n],
                    "ra": ra,
                    "dec": dec,
                    "ra_error": err,
                    "dec_error": err,
                    "epoch": rng.uniform(*RADIO_EPOCHS, n),
                    "flux_peak_mjy": flux,
                    "flux_int_mjy": flux * (1 + np.abs(rng.normal(0, 0.1, n))),
                    "freq_mhz": np.full(n, RADIO_FREQ_MHZ),
                },
                schema=RADIO_SCHEMA,
            )
        if self.n_radio_stars:
            yield pa.RecordBatch.from_pydict(self._radio_star_rows[0], schema=RADIO_SCHEMA)

    def truth(self, radio_prefix: str = "synthetic_radio", star_prefix: str = "synthetic_stars") -> pa.Table:
        """One row per injected radio star: its radio id, its host star's id (catalogue-prefixed), the true
        (noise-free) position at the radio epoch, the noise offset and the host's proper motion."""
        t = self._radio_star_rows[1]
        radio = [f"{radio_prefix}:{i}" for i in t.column("radio_id").to_pylist()]
        star = [f"{star_prefix}:{i}" for i in t.column("star_id").to_pylist()]
        t = t.set_column(0, "radio_id", pa.array(radio, pa.string()))
        return t.set_column(1, "star_id", pa.array(star, pa.string())).cast(TRUTH_SCHEMA)


def generate_synthetic_sky(
    n_stars: int, n_radio_background: int, n_radio_stars: int, seed: int, region: Region | str | None = None
) -> SyntheticSky:
    """The synthetic sky (lazy): iterate `.stars()` / `.radio()` for RecordBatches; `.truth()` for the answer.

    Counts are within `region` (default: the whole sky)."""
    region = region if isinstance(region, Region) else parse_region(region)
    return SyntheticSky(n_stars, n_radio_background, n_radio_stars, seed, region)
