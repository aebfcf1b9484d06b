"""How long planning a footprint fetch's cells takes (`radiolake ingest SURVEY --for-radio RADIO`): the order-7
cells within the motion margin of a radio source (radiolake.ingest.footprint.near_cells).

Reference, measured in the same run: the method it replaced, every source cell grown by rings of neighbours
(fast, but a ring of 0.46-degree cells around every source cell whatever the margin). Random positions below
Dec +30 (a RACS-like sky); prints the cells each method keeps, the median time of `--repeat` runs and the ratio
to the reference. Needs no stack.

    python benchmarks/footprint_cells.py [--sources 70000 2000000] [--margin 97] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def rings(ra: np.ndarray, dec: np.ndarray, margin_arcsec: float) -> np.ndarray:
    """The reference: source cells plus rings of neighbours as many as the smallest cell width takes."""
    import astropy.units as u
    import cdshealpix.nested as hp
    from astropy.coordinates import Latitude, Longitude

    from radiolake.ingest import coverage
    from radiolake.ingest.footprint import MIN_CELL_WIDTH_ARCSEC

    mask = coverage.empty()
    mask[hp.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), coverage.COVERAGE_ORDER)] = True
    for _ in range(math.ceil(margin_arcsec / MIN_CELL_WIDTH_ARCSEC)):
        near = hp.neighbours(np.flatnonzero(mask).astype(np.uint64), coverage.COVERAGE_ORDER)
        mask[near[near >= 0]] = True
    return mask


def timed(method: Callable[..., np.ndarray], repeat: int, *args: object) -> tuple[float, int]:
    times, cells = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        cells = int(method(*args).sum())
        times.append(time.perf_counter() - start)
    return statistics.median(times), cells


def main() -> int:
    from radiolake.ingest.footprint import near_cells

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, nargs="+", default=[70_000, 2_000_000])
    parser.add_argument("--margin", type=float, default=97.0, help="arcsec (the RACS tile's with a 30-arcsec radius)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    print(f"{'sources':>10} {'rings cells':>12} {'rings s':>8} {'circles cells':>14} {'circles s':>10} {'ratio':>6}")
    for n in args.sources:
        ra = rng.uniform(0, 360, n)
        dec = np.degrees(np.arcsin(rng.uniform(-1, math.sin(math.radians(30)), n)))
        ref_s, ref_cells = timed(rings, args.repeat, ra, dec, args.margin)
        new_s, new_cells = timed(near_cells, args.repeat, ra, dec, args.margin)
        print(f"{n:>10,} {ref_cells:>12,} {ref_s:>8.3f} {new_cells:>14,} {new_s:>10.3f} {new_s / ref_s:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
