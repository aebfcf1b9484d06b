"""The cross-match's output did not change in the refactoring of issue 26 (one driver, kernels, one
declaration of the run parameters, packages moved).

The fixtures in tests/fixtures/demo_crossmatch_before/ are the pairs, best matches and offset-sky statistics
of a demo-like synthetic sky (the demo's cone and seed, 8 offset skies, the default 5-sigma search) written
by the code before that work (commit 8e53941), with this file run as a script:

    git worktree add /tmp/old 8e53941
    PYTHONPATH=/tmp/old .venv/bin/python tests/unit/crossmatch/test_behaviour_unchanged.py \
        tests/fixtures/demo_crossmatch_before

Today's code must give the same rows, ids and flags exactly, and the same numbers to 1e-8 relative: the Earth's
position for annual parallax is now interpolated from a daily ephemeris grid (within 1e-9 AU of ERFA's
epv00), which moves separations by ~1e-10 of themselves and nothing else.

Regenerated once, deliberately, in issue 22 (the commit "density: a population's share measured over the radio
source's statistics region"), by running this file as a script on that commit: a population's local density
is shrunk toward its share over the neighbourhoods of the radio sources of the source's region, no longer over
every star the run read. Before regenerating, every column but star_density_deg2, p_chance, likelihood_ratio
and association_probability was checked to equal the 8e53941 fixtures as above; those four moved (density and
p_chance by <= 0.92 % relative, LR <= 0.44 %, probability <= 3.7e-4 absolute, 205 pairs).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "demo_crossmatch_before"
TABLES = {"pairs": ["radio_id", "star_id"], "best": ["radio_id"], "offset_stats": None}


def demo_sky_result() -> dict[str, pd.DataFrame]:
    """The demo-like sky cross-matched in this process, as the tables the fixtures hold."""
    from radiolake.crossmatch.core import crossmatch_frames
    from radiolake.ingest.synthetic import generate_synthetic_sky
    from tests.unit.crossmatch.xmatch_skies import fine_healpix

    sky = generate_synthetic_sky(20_000, 2_000, 200, seed=42, region="cone:270,-30,3")
    stars = pa.Table.from_batches(list(sky.stars())).to_pandas()
    radio = pa.Table.from_batches(list(sky.radio())).to_pandas()
    stars["source_id"] = "synthetic_stars:" + stars["source_id"].astype(str)
    radio["source_id"] = "synthetic_radio:" + radio["source_id"].astype(str)
    stars["healpix"] = fine_healpix(stars["ra"].to_numpy(), stars["dec"].to_numpy())
    res = crossmatch_frames(radio, stars, None, n_sigma=5.0, n_offsets=8)
    out = {}
    for name, keys in TABLES.items():
        table = res[name]
        frame = table if isinstance(table, pd.DataFrame) else table.to_pandas()
        keys = keys or list(frame.columns[: min(4, len(frame.columns))])
        out[name] = frame.sort_values(keys).reset_index(drop=True)
    return out


def test_demo_sky_pairs_best_and_offset_skies_are_unchanged():
    now = demo_sky_result()
    for name in TABLES:
        before = pd.read_parquet(FIXTURES / f"{name}.parquet")
        assert len(now[name]) == len(before) > 0, name
        assert list(now[name].columns) == list(before.columns), name
        pd.testing.assert_frame_equal(now[name], before, check_exact=False, rtol=1e-8, atol=0,
                                      check_dtype=True, obj=name)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for name, frame in demo_sky_result().items():
        frame.to_parquet(target / f"{name}.parquet", index=False)
        print(name, len(frame))
