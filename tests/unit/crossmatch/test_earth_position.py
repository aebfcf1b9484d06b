"""The Earth's barycentric position for the parallax: a cubic Hermite interpolation of ERFA's epv00 between the
whole days from J2000 around each date, the same for every date (a chunk with offset skies has ~10^5 radio
dates), so a date's position depends on that date alone."""

from __future__ import annotations

import erfa
import numpy as np

from radiolake.crossmatch.epochs import earth_barycentric_au


def _epv00(epochs: np.ndarray) -> np.ndarray:
    _, pvb = erfa.epv00(np.full(epochs.size, 2451545.0), (epochs - 2000.0) * 365.25)
    return pvb["p"]


def test_dates_are_interpolated_within_a_nanoau_of_epv00():
    epochs = np.random.default_rng(2).uniform(1990.0, 2030.0, 1280)
    epochs[:10] = [1990.0, 2030.0, 2016.0, 2016.0, 2000.0, 1999.999, 2024.5, 2024.5, 1993.25, 2029.9999]
    got = earth_barycentric_au(epochs)
    assert got.shape == (epochs.size, 3)
    assert np.abs(got - _epv00(epochs)).max() < 1e-9  # AU: ~1e-6 mas of parallax shift at 1 arcsec parallax
    few = np.array([2016.0, 2019.3, 2019.3, 1993.7])
    assert np.abs(earth_barycentric_au(few) - _epv00(few)).max() < 1e-9


def test_a_dates_position_does_not_depend_on_the_other_dates_of_a_task():
    """A region's pairs must be those of a run over the sky to the bit (issue 22): the tasks of the two runs
    hold other sets of dates."""
    rng = np.random.default_rng(7)
    date = np.array([2019.417])
    alone = earth_barycentric_au(date)
    for others in (rng.uniform(2019.0, 2020.0, 400), rng.uniform(1995.0, 2030.0, 5000), np.array([np.nan])):
        together = earth_barycentric_au(np.concatenate([others, date]))
        np.testing.assert_array_equal(together[-1:], alone)
    assert np.isnan(earth_barycentric_au(np.array([np.nan, 2016.0]))[0]).all()
