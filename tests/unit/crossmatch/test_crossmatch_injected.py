"""A synthetic sky with radio stars injected at known stars: completeness and purity against the truth.

The sky is built here (tiny and self-contained): uniform background radio sources (galaxies) and stars in a
2 x 2 deg patch; 150 stars, many of them fast movers, get a radio counterpart at the star's position moved to
a random radio epoch, plus Gaussian position noise of the stated radio error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiolake.crossmatch.core import crossmatch_frames
from radiolake.crossmatch.epochs import propagate
from tests.unit.crossmatch.xmatch_skies import catalogue

SIGMA = 0.5  # arcsec, per axis


def injected_sky(seed: int = 42):
    rng = np.random.default_rng(seed)
    n_star, n_bg, n_inj = 5000, 2000, 150
    ra0, dec0 = 150.0, 20.0

    def patch(n):
        return ra0 + rng.uniform(-1, 1, n) / np.cos(np.radians(dec0)), dec0 + rng.uniform(-1, 1, n)

    sra, sdec = patch(n_star)
    pm = rng.normal(0, 50, (2, n_star))
    pm[:, :n_inj] = rng.normal(0, 400, (2, n_inj))  # the radio stars: nearby, fast
    stars = catalogue("star", sra, sdec, 2016.0, ra_error=0.01, dec_error=0.01, pmra=pm[0], pmdec=pm[1])
    epochs = rng.uniform(1993.0, 2024.0, n_inj)
    ira, idec = propagate(sra[:n_inj], sdec[:n_inj], pm[0, :n_inj], pm[1, :n_inj], 2016.0, epochs)
    ira = ira + rng.normal(0, SIGMA, n_inj) / 3600 / np.cos(np.radians(idec))
    idec = idec + rng.normal(0, SIGMA, n_inj) / 3600
    bra, bdec = patch(n_bg)
    radio = catalogue(
        "radio",
        np.concatenate([ira, bra]),
        np.concatenate([idec, bdec]),
        np.concatenate([epochs, rng.uniform(1993.0, 2024.0, n_bg)]),
        ra_error=SIGMA,
        dec_error=SIGMA,
    )
    truth = pd.DataFrame(
        {"radio_id": radio["source_id"][:n_inj].to_numpy(), "star_id": stars["source_id"][:n_inj].to_numpy()}
    )
    return radio, stars, truth


def test_completeness_and_purity_against_the_truth_table():
    radio, stars, truth = injected_sky()
    res = crossmatch_frames(radio, stars, 3.0, n_offsets=8, offset_arcmin=3.0)
    best = res["best"]
    merged = best.merge(truth, on="radio_id", how="left", suffixes=("", "_true"))
    correct = merged["star_id"] == merged["star_id_true"]
    completeness = correct.sum() / len(truth)
    purity = correct.sum() / len(best)
    assert completeness >= 0.98, completeness
    # purity: only chance coincidences of background sources may be wrong, at most a Poisson 3-sigma excess
    # over their analytic rate n_bg (1 - exp(-pi r^2 rho)), rho = 5000 stars / 4 deg^2
    n_bg = len(radio) - len(truth)
    chance = n_bg * -np.expm1(-np.pi * (3.0 / 3600) ** 2 * len(stars) / 4.0)
    assert purity >= len(truth) / (len(truth) + chance + 3 * np.sqrt(chance) + 1), (purity, chance)
    # the offset skies predict the number of false best matches (Poisson, loose bound)
    false_found = int((~correct).sum())
    expected = res["offset_stats"].query("radius_arcsec == 3.0")["expected_false_matches"].sum()
    assert abs(false_found - expected) <= 3 * np.sqrt(false_found + expected) + 2, (false_found, expected)
    # true pairs are unlikely by chance; chance pairs much less so
    assert merged.loc[correct, "p_chance"].median() < merged.loc[~correct, "p_chance"].median()
    # 5-sigma on the combined error recovers the same true pairs
    sig = crossmatch_frames(radio, stars, None, n_sigma=5.0)["best"].merge(truth, on="radio_id")
    assert (sig["star_id_x"] == sig["star_id_y"]).sum() >= 0.98 * len(truth)


def test_without_proper_motion_the_fast_radio_stars_are_lost():
    radio, stars, truth = injected_sky()
    frozen = stars.assign(pmra=np.nan, pmdec=np.nan)
    best = crossmatch_frames(radio, frozen, 3.0)["best"].merge(truth, on="radio_id")
    found = (best["star_id_x"] == best["star_id_y"]).sum()
    assert found < 0.8 * len(truth)
    assert not best["pm_applied"].any()
