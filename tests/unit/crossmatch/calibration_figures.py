"""Print issue 21's association figures (the numbers docs/science-association.md quotes), from the same skies
and code the tests assert on: `.venv/bin/python -m tests.unit.crossmatch.calibration_figures`.

- grades on the Gaia-depth sky with quasars (seeds 21-23): recall of the radio stars at grades A/B, purity,
  quasars and chance stars at the top grades;
- calibration per population and bin on the pooled skies of test_association_calibration.py: pairs, mean
  predicted, observed, deviation.
"""

from __future__ import annotations

import pandas as pd

from radiolake.app.science_demo import grades
from radiolake.crossmatch.core import crossmatch_frames
from tests.unit.crossmatch.gaia_depth_sky import gaia_depth_sky, grade_figures
from tests.unit.crossmatch.test_association_calibration import CROWDED_STARS, calibration_of, pooled_pairs


def main() -> None:
    rows = []
    for seed in (21, 22, 23):
        sky = gaia_depth_sky(seed=seed)
        best = crossmatch_frames(sky.radio, sky.stars, None, n_sigma=5.0, n_offsets=8)["best"]
        rows.append({"seed": seed, **grade_figures(best, grades(best, sky.stars), sky.truth)})
    print("Gaia-depth sky with quasars: grades")
    print(pd.DataFrame(rows).to_string(index=False))
    for population, seeds, sky in (("extragalactic", range(100, 108), {}),
                                   ("star", range(100, 104), CROWDED_STARS)):
        curve = calibration_of(pooled_pairs(seeds, **sky), population)
        print(f"\ncalibration, {population} (seeds {seeds.start}-{seeds.stop - 1} pooled, sky {sky or 'as issued'})")
        print(curve.round(4).to_string(index=False))
        print(f"max |observed - predicted| = {curve['deviation'].abs().max():.4f}; "
              f"fewest pairs in a bin = {int(curve['n'].min())}")


if __name__ == "__main__":
    main()
