"""The Earth's barycentric position for the parallax: ERFA's epv00 at each date for a few dates, a cubic
Hermite interpolation of it on a daily grid for many (a chunk with offset skies has ~10^5 radio dates)."""

from __future__ import annotations

import erfa
import numpy as np

from radiolake.crossmatch.epochs import EXACT_EPOCHS, earth_barycentric_au


def _epv00(epochs: np.ndarray) -> np.ndarray:
    _, pvb = erfa.epv00(np.full(epochs.size, 2451545.0), (epochs - 2000.0) * 365.25)
    return pvb["p"]


def test_many_dates_are_interpolated_within_a_nanoau_of_epv00():
    epochs = np.random.default_rng(2).uniform(1990.0, 2030.0, 5 * EXACT_EPOCHS)
    epochs[:10] = [1990.0, 2030.0, 2016.0, 2016.0, 2000.0, 1999.999, 2024.5, 2024.5, 1993.25, 2029.9999]
    got = earth_barycentric_au(epochs)
    assert got.shape == (epochs.size, 3)
    assert np.abs(got - _epv00(epochs)).max() < 1e-9  # AU: ~1e-6 mas of parallax shift at 1 arcsec parallax


def test_few_dates_are_epv00_itself():
    epochs = np.array([2016.0, 2019.3, 2019.3, 1993.7])
    np.testing.assert_array_equal(earth_barycentric_au(epochs), _epv00(epochs))
