"""Benchmark data too large to build in memory (100 M stars x 10 M radio), and radio skies that cover part of
the star patch (to show that the engine reads only the star pixels the radio footprint touches).

`generate_chunked` follows run.generate's recipe (uniform stars at J2016 with pm ~ N(0, 6 mas/yr), radio 10%
within 0.5" of a star, 90% random, epochs 2019-2024.5) but at the *same density* as the 10 M x 1 M patch
(100 k stars and 10 k radio sources per deg^2) over a larger square patch, so that rows scale up and not the
stars per cone: 100 M x 10 M covers ~1000 deg^2 (31.6 x 31.6 deg around RA 150, Dec 0). Stars are made in
chunks, spilled per order-4 pixel, then each pixel is sorted by healpix and written as the HATS-like
stars/Norder=4/Dir=0/Npix=*.parquet file; radio goes out chunk by chunk through one ParquetWriter. Peak memory
is one chunk (~0.6 GB for 4 M stars) or one pixel file, whichever is larger, whatever the total size.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: Stars and radio sources per square degree of the 10 M x 1 M patch (100 deg^2), kept at every size.
STARS_PER_DEG2 = 100_000
CHUNK = 4_000_000
RA0, DEC0 = 150.0, 0.0
HP_ORDER, FILE_ORDER = 29, 4


def side_for(n_stars: int) -> float:
    """The side (deg) of the square patch holding n_stars at the 10 M x 1 M density."""
    return math.sqrt(n_stars / STARS_PER_DEG2)


def _patch(rng: np.random.Generator, n: int, side: float, ra0: float = RA0, dec0: float = DEC0):
    """n points uniform on the sphere within RA ra0 +- side/2, Dec dec0 +- side/2."""
    lo, hi = np.sin(np.radians(dec0 - side / 2)), np.sin(np.radians(dec0 + side / 2))
    dec = np.degrees(np.arcsin(rng.uniform(lo, hi, n)))
    return rng.uniform(ra0 - side / 2, ra0 + side / 2, n) % 360, dec


def _healpix(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    from astropy import units as u
    from astropy.coordinates import Latitude, Longitude
    from cdshealpix import nested

    return nested.lonlat_to_healpix(Longitude(ra, unit=u.deg), Latitude(dec, unit=u.deg), HP_ORDER).astype(np.int64)


def _ids(prefix: str, start: int, n: int) -> pa.Array:
    """"prefix:i" strings for i in [start, start + n), built in Arrow (a Python loop over 100 M is minutes)."""
    nums = pc.cast(pa.array(np.arange(start, start + n, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(pa.scalar(prefix), nums, "")


def radio_table(rng: np.random.Generator, ra: np.ndarray, dec: np.ndarray, start: int) -> pa.Table:
    """Radio rows (run.generate's schema, default epochs) for the given positions."""
    n = ra.size
    nan = np.full(n, np.nan)
    return pa.table(
        {
            "source_id": _ids("radio:", start, n),
            "ra": ra % 360,
            "dec": dec,
            "ra_error": np.full(n, 0.5),
            "dec_error": np.full(n, 0.5),
            "epoch": rng.uniform(2019.0, 2024.5, n),
            "pmra": nan,
            "pmdec": nan,
            "parallax": nan,
            "parallax_error": nan,
            "healpix": _healpix(ra % 360, dec),
        }
    )


def generate_chunked(folder: Path, n_stars: int, n_radio: int, seed: int = 1, chunk: int = CHUNK) -> float:
    """Write stars (HATS-like folder) and radio.parquet into folder, chunk by chunk; returns the patch side."""
    side = side_for(n_stars)
    spill = folder / "spill"
    n_true = n_radio // 10
    true_pos = []
    for k, start in enumerate(range(0, n_stars, chunk)):
        n = min(chunk, n_stars - start)
        rng = np.random.default_rng([seed, k])
        ra, dec = _patch(rng, n, side)
        hp = _healpix(ra, dec)
        pm = rng.normal(0, 6, (2, n))
        part = pa.table(
            {"sid": np.arange(start, start + n, dtype=np.int64), "ra": ra, "dec": dec, "pmra": pm[0],
             "pmdec": pm[1], "parallax": rng.exponential(0.5, n), "healpix": hp}
        )
        # this chunk's share of the radio sources placed at stars
        share = n_true * (start + n) // n_stars - n_true * start // n_stars
        pick = rng.choice(n, share, replace=False)
        true_pos.append((ra[pick], dec[pick]))
        pix = hp >> (2 * (HP_ORDER - FILE_ORDER))
        order = np.argsort(pix, kind="stable")
        part, pix = part.take(order), pix[order]
        bounds = np.flatnonzero(np.diff(pix)) + 1
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, pix.size], strict=True):
            d = spill / f"Npix={pix[lo]}"
            d.mkdir(parents=True, exist_ok=True)
            pq.write_table(part.slice(lo, hi - lo), d / f"part-{k:04d}.parquet")
    out = folder / "stars" / f"Norder={FILE_ORDER}" / "Dir=0"
    out.mkdir(parents=True, exist_ok=True)
    for d in sorted(spill.iterdir()):
        part = pq.read_table(d)
        part = part.take(pc.sort_indices(part, [("healpix", "ascending")]))
        n = part.num_rows
        stars = pa.table(
            {
                "source_id": pc.binary_join_element_wise(pa.scalar("gaia:"), pc.cast(part["sid"], pa.string()), ""),
                "ra": part["ra"],
                "dec": part["dec"],
                "ra_error": np.full(n, 0.0003),
                "dec_error": np.full(n, 0.0003),
                "epoch": np.full(n, 2016.0),
                "pmra": part["pmra"],
                "pmdec": part["pmdec"],
                "parallax": part["parallax"],
                "parallax_error": np.full(n, 0.05),
                "healpix": part["healpix"],
            }
        )
        pq.write_table(stars, out / f"{d.name}.parquet", row_group_size=262_144)
        shutil.rmtree(d)
    spill.rmdir()
    rng = np.random.default_rng([seed, 10**6])
    tra = np.concatenate([p[0] for p in true_pos])
    tdec = np.concatenate([p[1] for p in true_pos])
    tra += rng.normal(0, 0.5, tra.size) / 3600
    tdec += rng.normal(0, 0.5, tdec.size) / 3600
    writer = None
    try:
        for start in range(0, n_radio, chunk):
            n = min(chunk, n_radio - start)
            ra, dec = _patch(rng, n, side)
            # the first n_true rows sit at stars, as in run.generate
            at_star = slice(start, min(start + n, n_true))
            m = max(0, at_star.stop - at_star.start)
            ra[:m], dec[:m] = tra[at_star], tdec[at_star]
            t = radio_table(rng, ra, dec, start)
            writer = writer or pq.ParquetWriter(folder / "radio.parquet", t.schema)
            writer.write_table(t)
    finally:
        if writer is not None:
            writer.close()
    return side


def partial_radio(stars_folder: Path, folder: Path, n_radio: int, side: float, fraction: float = 0.25,
                  seed: int = 2) -> None:
    """A radio sky over only `fraction` of the star patch (its lower-left corner square), with the stars linked.

    Radio density is that of the full recipe (n_radio over the whole patch, so n_radio * fraction rows), 10% at
    stars of that corner. The engine should then read only the star pixels that corner (plus margin) touches.
    """
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "stars"
    if not link.exists():
        link.symlink_to((stars_folder / "stars").resolve(), target_is_directory=True)
    rng = np.random.default_rng(seed)
    sub = side * math.sqrt(fraction)
    ra0, dec0 = RA0 - side / 2 + sub / 2, DEC0 - side / 2 + sub / 2
    lo, hi = ra0 - sub / 2, ra0 + sub / 2
    dlo, dhi = dec0 - sub / 2, dec0 + sub / 2
    n = int(n_radio * fraction)
    ra, dec = _patch(rng, n, sub, ra0, dec0)
    n_true = n // 10
    # stars of the corner, read by Dec/RA filter from the star files (only ra, dec columns)
    filt = (pc.field("ra") >= lo) & (pc.field("ra") < hi) & (pc.field("dec") >= dlo) & (pc.field("dec") < dhi)
    import pyarrow.dataset as ds

    corner = ds.dataset(stars_folder / "stars", format="parquet").to_table(columns=["ra", "dec"], filter=filt)
    pick = rng.choice(corner.num_rows, n_true, replace=False)
    ra[:n_true] = corner["ra"].to_numpy()[pick] + rng.normal(0, 0.5, n_true) / 3600
    dec[:n_true] = corner["dec"].to_numpy()[pick] + rng.normal(0, 0.5, n_true) / 3600
    pq.write_table(radio_table(rng, ra, dec, 0), folder / "radio.parquet")


def star_bytes(folder: Path) -> int:
    """Bytes of every star pixel file (what a reader without pruning would read)."""
    return sum(p.stat().st_size for p in (folder / "stars").rglob("*.parquet"))
