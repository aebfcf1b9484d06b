"""Fixtures: synthetic skies for the report pictures (see `skies`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.unit.reports.skies import sky_frames


@pytest.fixture(scope="module")
def cone_sky() -> dict[str, pd.DataFrame]:
    return sky_frames("cone:120,-40,5")


@pytest.fixture(scope="module")
def wrap_sky() -> dict[str, pd.DataFrame]:
    """A footprint straddling RA 0/360."""
    return sky_frames("box:355,5,-10,10")


@pytest.fixture(scope="module")
def wide_sky() -> dict[str, pd.DataFrame]:
    return sky_frames("all", n_stars=20000)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)
