"""The association probability is calibrated on the synthetic sky with injected truth (issue 12).

radiolake's own synthetic sky (radiolake/ingest/synthetic.py): Gaia-like stars, background radio sources with
a realistic flux distribution (hence positional errors) and radio stars at known hosts moved to their radio
epochs. Every final pair of the cross-match gets a posterior; in bins of predicted probability the observed
fraction of true pairs must be within 0.05 of the prediction. A dense high-latitude field (~15,000 stars per
square degree) so that many pairs are ambiguous and every bin holds a few hundred pairs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from radiolake.crossmatch.association import reliability_curve
from radiolake.crossmatch.core import crossmatch_frames
from radiolake.ingest.synthetic import generate_synthetic_sky
from radiolake.reports.plots import reliability_diagram
from tests.unit.crossmatch.xmatch_skies import fine_healpix

BINS = np.linspace(0.0, 1.0, 6)
TOLERANCE = 0.05


def synthetic_frames(n_stars: int, n_background: int, n_radio_stars: int, seed: int, region: str):
    sky = generate_synthetic_sky(n_stars, n_background, n_radio_stars, seed=seed, region=region)
    stars = pa.Table.from_batches(list(sky.stars())).to_pandas()
    radio = pa.Table.from_batches(list(sky.radio())).to_pandas()
    stars["source_id"] = "synthetic_stars:" + stars["source_id"].astype(str)
    radio["source_id"] = "synthetic_radio:" + radio["source_id"].astype(str)
    stars["healpix"] = fine_healpix(stars["ra"].to_numpy(), stars["dec"].to_numpy())
    return radio, stars, sky.truth().to_pandas()


def test_posterior_is_calibrated_against_the_injected_truth():
    radio, stars, truth = synthetic_frames(1_200_000, 40_000, 4_000, 11, "cone:180,40,5")
    res = crossmatch_frames(radio, stars, None, n_sigma=5.0, n_offsets=8)
    pairs = res["pairs"].merge(truth[["radio_id", "star_id"]].assign(true=True), on=["radio_id", "star_id"],
                               how="left")
    is_true = pairs["true"].notna().to_numpy()
    assert is_true.sum() >= 0.99 * len(truth)  # the pairs hold (almost) every injected radio star
    assert pairs["association_probability"].notna().all()
    curve = reliability_curve(pairs["association_probability"].to_numpy(), is_true, BINS)
    table = pd.DataFrame(curve)
    # Weighed against its own population (stars binned by parallax, issue 21), a pair is rarely ambiguous:
    # every bin holds pairs, and is within 0.05 where it holds enough of them to tell (binomial error
    # <= 0.025), else within two binomial errors.
    assert (curve["n"] >= 40).all(), table
    allowed = np.maximum(TOLERANCE, 2 * curve["error"])
    assert np.all(np.abs(curve["observed"] - curve["mean_predicted"]) <= allowed), table
    # The probabilities carry information: most pairs are sure one way or the other.
    assert curve["n"][0] + curve["n"][-1] > 0.8 * curve["n"].sum()
    # The prior came from the offset skies: about the injected fraction of radio stars.
    assert abs(res["priors"].run - len(truth) / len(radio)) < 0.02
    assert reliability_diagram(curve)[:8] == b"\x89PNG\r\n\x1a\n"
