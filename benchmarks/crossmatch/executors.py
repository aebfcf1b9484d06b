"""The one driver on its two executors, against astropy, on the same sky in the same run.

    .venv/bin/python -m benchmarks.crossmatch.executors --radio 20000 --stars 400000 --offsets 8

Prints the best of `--repeat` wall times of: astropy's search_around_sky (the reference: candidate pairs
only, no epochs, errors or result tables), the driver on the MapExecutor (in this process) and on the
SparkExecutor (local[2], the session started once before timing), and each as a ratio to the reference;
the two executors' pair sets must be equal (checked, untimed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RADIUS = 2.0


def sky(n_radio: int, n_stars: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Radio sources and Gaia-like stars (proper motions, parallaxes) uniform on a 4 x 4 degree patch."""
    from radiolake.crossmatch.partitioning import home_pixels

    rng = np.random.default_rng(seed)

    def patch(n: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.sin(np.radians(-32.0)), np.sin(np.radians(-28.0))
        return rng.uniform(268, 272, n), np.degrees(np.arcsin(rng.uniform(lo, hi, n)))

    ra, dec = patch(n_radio)
    radio = pd.DataFrame({"source_id": [f"r{i}" for i in range(n_radio)], "ra": ra, "dec": dec, "epoch": 2020.0,
                          "ra_error": rng.uniform(0.2, 2, n_radio), "dec_error": rng.uniform(0.2, 2, n_radio)})
    ra, dec = patch(n_stars)
    stars = pd.DataFrame({"source_id": [f"s{i}" for i in range(n_stars)], "ra": ra, "dec": dec, "epoch": 2016.0,
                          "ra_error": 0.001, "dec_error": 0.001, "pmra": rng.normal(0, 10, n_stars),
                          "pmdec": rng.normal(0, 10, n_stars), "parallax": rng.exponential(1, n_stars),
                          "healpix": home_pixels(ra, dec, 29)})
    return radio, stars.sort_values("healpix", ignore_index=True)


def best_of(repeat: int, fn) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--radio", type=int, default=20_000)
    p.add_argument("--stars", type=int, default=400_000)
    p.add_argument("--offsets", type=int, default=8)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    import astropy.units as u
    from astropy.coordinates import SkyCoord, search_around_sky

    from radiolake.crossmatch.driver import run_crossmatch
    from radiolake.crossmatch.executors import MapExecutor, SparkExecutor
    from radiolake.crossmatch.match_config import MatchConfig
    from radiolake.spark.session import get_spark_context

    radio, stars = sky(a.radio, a.stars)
    with tempfile.TemporaryDirectory() as tmp:
        radio.to_parquet(Path(tmp) / "radio.parquet")
        stars.to_parquet(Path(tmp) / "stars.parquet", row_group_size=128_000)
        inputs = (str(Path(tmp) / "radio.parquet"), str(Path(tmp) / "stars.parquet"))

        def reference() -> object:  # fresh coordinates each time: a SkyCoord caches its KD-tree
            rc = SkyCoord(radio["ra"].to_numpy() * u.deg, radio["dec"].to_numpy() * u.deg)
            sc = SkyCoord(stars["ra"].to_numpy() * u.deg, stars["dec"].to_numpy() * u.deg)
            return search_around_sky(rc, sc, RADIUS * u.arcsec)

        ref, _ = best_of(a.repeat, reference)
        spark = SparkExecutor(get_spark_context("radiolake-bench-executors", "local[2]"))
        spark.start()
        results, config = {}, MatchConfig(radius_arcsec=RADIUS, n_offsets=a.offsets)
        for name, executor in (("map", MapExecutor()), ("spark local[2]", spark)):
            results[name] = best_of(a.repeat, lambda ex=executor, n=name: run_crossmatch(
                ex, *inputs, str(Path(tmp) / n.split()[0]), config))
        pairs = [set(map(tuple, pd.read_parquet(Path(tmp) / d / "pairs")[["radio_id", "star_id"]].to_numpy()))
                 for d in ("map", "spark")]
        assert pairs[0] == pairs[1], "the executors found different pairs"
    print(f"{a.radio} radio x {a.stars} stars, {a.offsets} offset skies, radius {RADIUS}\", best of {a.repeat}; "
          f"{len(pairs[0])} pairs, equal on both executors")
    print(f"  astropy search_around_sky (reference): {ref:.3f} s")
    for name, (wall, _) in results.items():
        print(f"  driver on {name:>15}: {wall:.3f} s  ({wall / ref:.2f} x reference)")


if __name__ == "__main__":
    main()
