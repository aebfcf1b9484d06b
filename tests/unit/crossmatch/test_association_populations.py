"""Two populations, two priors (issue 21): at Gaia depth, with quasars as the true counterparts of some radio
sources, the radio stars reach the top grades, the top grades hold radio stars, and no quasar is graded as a
radio star; the posterior is calibrated for each population.

The sky (gaia_depth_sky.py): 15,000 stars and 25 Gaia-detected quasars per deg^2 over 28 deg^2, a RACS-like
survey (1-2" errors, per-row epochs) with 1 % radio stars at 10-100 pc and 3 % quasar counterparts. Grades are
the marts' rule (science_demo.grades, the dbt defaults). On this sky the association without populations
(before issue 21) put 11 % of the radio stars at the top grades and graded 38 quasars as radio stars.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from radiolake.app.science_demo import grades
from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.likelihood import reliability_curve
from radiolake.crossmatch.populations import (
    EXTRAGALACTIC,
    FIRST_STAR_CLASS,
    UNCERTAIN,
    star_classes,
)
from radiolake.reports.plots import reliability_diagram
from tests.unit.crossmatch.gaia_depth_sky import gaia_depth_sky, grade_figures

BINS = np.linspace(0.0, 1.0, 6)
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def run():
    sky = gaia_depth_sky(seed=21)
    res = crossmatch_frames(sky.radio, sky.stars, None, n_sigma=5.0, n_offsets=8)
    return sky, res


def test_radio_stars_reach_the_top_grades_and_quasars_never_do(run):
    sky, res = run
    best = res["best"]
    f = grade_figures(best, grades(best, sky.stars), sky.truth)
    assert f["radio_stars"] >= 100 and (sky.truth["kind"] == "quasar").sum() >= 300
    assert f["recall_top"] >= 0.95, f
    assert f["purity_top"] >= 0.95, f
    assert f["quasars_top"] == 0 and f["quasar_hosts_top"] == 0, f
    assert f["grade_a"] >= 0.9 * f["radio_stars"], f  # nearby stars have parallaxes: grade A


def test_quasar_counterparts_are_kept_as_extragalactic(run):
    sky, res = run
    b = res["best"].merge(sky.truth, on="radio_id")
    quasars = b[(b["kind"] == "quasar") & (b["star_id_x"] == b["star_id_y"])]
    assert len(quasars) >= 0.9 * (sky.truth["kind"] == "quasar").sum()
    assert (quasars["population"] == "extragalactic").mean() >= 0.98
    # weighed against their own population (quasars, galaxies and stars without significant astrometry), the
    # true quasars are the likelier counterpart on average
    assert quasars["association_probability"].mean() >= 0.6, quasars["association_probability"].describe()
    assert res["priors"].by_population[EXTRAGALACTIC] == pytest.approx(0.03, abs=0.01)


def test_posterior_is_calibrated_per_population(run):
    sky, res = run
    pairs = res["pairs"].merge(sky.truth[["radio_id", "star_id"]].assign(true=True), on=["radio_id", "star_id"],
                               how="left")
    is_true = pairs["true"].notna().to_numpy()
    curves = {}
    for population in ("star", "extragalactic"):
        sel = (pairs["population"] == population).to_numpy()
        curve = curves[population] = reliability_curve(pairs.loc[sel, "association_probability"].to_numpy(),
                                                       is_true[sel], BINS)
        table = pd.DataFrame(curve)
        filled = curve["n"] >= 30
        assert filled[0] and filled[-1], table
        # within 0.05 where the bin holds enough pairs to tell (binomial error <= 0.025), else within 2 sigma
        allowed = np.maximum(TOLERANCE, 2 * curve["error"])
        assert np.all(np.abs(curve["observed"] - curve["mean_predicted"])[filled] <= allowed[filled]), (population,
                                                                                                       table)
    assert reliability_diagram(curves)[:8] == b"\x89PNG\r\n\x1a\n"  # the run report's, per population


def test_populations_from_astrometry():
    nan = np.nan
    #                  parallax, error, pmra, pmdec, pm errors, ruwe, G
    rows = np.array([
        [0.02, 0.3, 0.1, -0.2, 0.3, 0.3, 1.0, 20.0],     # quasar: nothing significant
        [40.0, 0.05, 300, 100, 0.05, 0.05, 1.0, 12.5],   # nearby star (25 pc)
        [0.4, 0.3, 5.0, 3.0, 0.3, 0.3, 1.0, 19.0],       # distant star: motion only
        [3.0, 0.5, 0.1, 0.1, 0.5, 0.5, 2.5, 18.0],       # 6 sigma, but RUWE 2.5: 2.4 sigma once scaled
        [60.0, 0.1, 500, 0, 0.1, 0.1, 3.0, 13.0],        # RUWE 3, still 200 sigma: a star
        [0.5, 0.9, 1.0, 1.0, nan, nan, nan, 8.5],        # Hipparcos giant: bright, no RUWE
        [0.1, 0.02, 0.0, 0.0, 0.02, 0.02, 1.0, 17.0],    # 5.85 sigma only after the zero-point (+0.017 mas)
    ])
    cls = star_classes(*rows[:, :6].T[[0, 1, 2, 3, 4, 5]], rows[:, 6], rows[:, 7])
    assert cls[0] == EXTRAGALACTIC
    assert cls[1] > cls[2] >= FIRST_STAR_CLASS  # nearer stars are in higher parallax classes
    assert cls[3] == UNCERTAIN
    assert cls[4] >= FIRST_STAR_CLASS and cls[5] >= FIRST_STAR_CLASS and cls[6] >= FIRST_STAR_CLASS
    # no proper-motion errors: the parallax error stands in, so a 1 mas/yr motion at 0.9 mas is nothing
    assert star_classes(np.array([0.5]), np.array([0.9]), np.array([1.0]), np.array([1.0]), np.array([nan]),
                        np.array([nan]), np.array([nan]))[0] == EXTRAGALACTIC
