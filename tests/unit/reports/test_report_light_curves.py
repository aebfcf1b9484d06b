"""Light curves of the run report: detections split per star and per frequency, drawn as a valid PNG."""

from __future__ import annotations

import numpy as np
import pandas as pd

from radiolake.reports import plots
from radiolake.reports.prepare import light_curves

from .test_report_plots import not_blank, open_png

DETECTIONS = pd.DataFrame({
    "star_id": ["b", "a", "a", "a", "a", "b", "c"],
    "epoch_jyear": [2020.0, 2021.0, 2019.5, 2020.1, 2022.0, np.nan, 2020.0],
    "freq_mhz": [887.5, 887.5, 887.5, 3000.0, None, 887.5, 1400.0],
    "flux_mjy": [1.0, 6.0, 2.0, 1.0, 4.0, 3.0, None],
    "flux_error_mjy": [0.2, 0.2, 0.2, 0.15, None, 0.2, 0.1],
})
STARS = pd.DataFrame({"star_id": ["a", "b", "c"], "star_grade": ["A", "B", "B"],
                      "star_evidence": ["variability", "none", "none"]})


def test_light_curves_split_per_star_and_frequency():
    curves = light_curves(DETECTIONS, STARS)
    assert [c.star_id for c in curves] == ["a", "b"]  # star order as given; c has no drawable detection
    a = curves[0]
    assert a.label == "a, grade A, variability"
    assert a.n_detections == 4
    known = {f: df for f, df in a.by_freq.items() if not np.isnan(f)}
    assert set(known) == {887.5, 3000.0}
    assert list(known[887.5]["epoch_jyear"]) == [2019.5, 2021.0]  # sorted by epoch
    assert list(known[887.5]["flux_mjy"]) == [2.0, 6.0]
    assert sum(np.isnan(f) for f in a.by_freq) == 1  # an unknown frequency is a group of its own
    assert curves[1].n_detections == 1  # b's row without an epoch cannot be drawn


def test_light_curve_figure_is_a_valid_png():
    png = plots.light_curve_figure(light_curves(DETECTIONS, STARS))
    assert not_blank(open_png(png)) > 50


def test_light_curve_figure_without_stars_still_draws():
    assert not_blank(open_png(plots.light_curve_figure([]))) > 5
