"""Proper-motion propagation against astropy's apply_space_motion (the reference the issue names)."""

from __future__ import annotations

import warnings

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.time import Time
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from radiolake.crossmatch.epochs import propagate, star_error_at_epoch

N = 20
ra_s = arrays(np.float64, N, elements=st.floats(0, 359.999999))
dec_s = arrays(np.float64, N, elements=st.floats(-89.9999, 89.9999))
pm_s = arrays(np.float64, N, elements=st.floats(-10_000, 10_000))  # mas/yr: below 10"/yr


@settings(max_examples=40, deadline=None)
@given(
    ra=ra_s, dec=dec_s, pmra=pm_s, pmdec=pm_s, dt=st.floats(-30, 30), epoch0=st.sampled_from([1991.25, 2000.0, 2016.0])
)
def test_propagation_agrees_with_astropy_to_1_mas_over_30_years(ra, dec, pmra, pmdec, dt, epoch0):
    shrink = np.minimum(1.0, 9_999 / np.maximum(np.hypot(pmra, pmdec), 1e-9))  # keep |pm| < 10"/yr
    pmra, pmdec = pmra * shrink, pmdec * shrink
    got_ra, got_dec = propagate(ra, dec, pmra, pmdec, epoch0, epoch0 + dt)
    c = SkyCoord(
        ra=ra * u.deg,
        dec=dec * u.deg,
        pm_ra_cosdec=pmra * u.mas / u.yr,
        pm_dec=pmdec * u.mas / u.yr,
        obstime=Time(epoch0, format="jyear"),
        # An explicit distance and zero radial velocity (the straight-line motion radiolake models): without
        # them ERFA substitutes a distance and, a few tenths of an arcsec from a pole, leaves the star unmoved
        # (hypothesis found dec 89.9999, pmra 2.2"/yr).
        distance=1 * u.kpc,
        radial_velocity=0 * u.km / u.s,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = c.apply_space_motion(new_obstime=Time(epoch0 + dt, format="jyear"))
    sep = SkyCoord(got_ra * u.deg, got_dec * u.deg).separation(ref).to_value(u.mas)
    assert sep.max() < 1.0
    assert np.all((got_ra >= 0) & (got_ra < 360))


def test_stars_without_proper_motion_stay_where_they_are():
    ra, dec = propagate(
        np.array([0.0, 359.5]),
        np.array([89.0, -10.0]),
        np.array([np.nan, 5.0]),
        np.array([np.nan, np.nan]),
        2016.0,
        1990.0,
    )
    np.testing.assert_allclose(ra, [0.0, 359.5], atol=1e-12)
    np.testing.assert_allclose(dec, [89.0, -10.0], atol=1e-12)


def test_star_error_grows_with_proper_motion_error_and_time():
    err = star_error_at_epoch(np.array([0.1, np.nan]), np.array([2.0, 2.0]), np.array([-25.0, 10.0]))
    np.testing.assert_allclose(err, [np.hypot(0.1, 0.05), 0.02])
