"""The synthetic sky: deterministic, plane-concentrated, radio stars on their host at the radio epoch."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pyarrow as pa
from astropy.coordinates import CartesianRepresentation, Distance, SkyCoord, get_body_barycentric
from astropy.time import Time

from radiolake.ingest.synthetic import (
    STAR_EPOCH,
    generate_synthetic_sky,
    propagate_linear,
    sin_galactic_latitude,
)


def test_propagation_matches_astropy_apply_space_motion():
    rng = np.random.default_rng(0)
    n = 500
    ra, dec = rng.uniform(0, 360, n), np.degrees(np.arcsin(rng.uniform(-0.999, 0.999, n)))
    pmra, pmdec = rng.normal(0, 2000, n), rng.normal(0, 2000, n)
    dt = rng.uniform(-30, 30, n)
    got_ra, got_dec = propagate_linear(ra, dec, pmra, pmdec, dt)
    c = SkyCoord(
        ra=ra * u.deg,
        dec=dec * u.deg,
        pm_ra_cosdec=pmra * u.mas / u.yr,
        pm_dec=pmdec * u.mas / u.yr,
        distance=Distance(parallax=50 * u.mas),
        radial_velocity=0 * u.km / u.s,
        obstime=Time(STAR_EPOCH, format="jyear"),
    )
    ref = c.apply_space_motion(new_obstime=Time(STAR_EPOCH + dt, format="jyear"))
    sep = SkyCoord(got_ra * u.deg, got_dec * u.deg).separation(SkyCoord(ref.ra, ref.dec)).to_value(u.mas)
    assert sep.max() < 0.05  # agreement to 50 microarcsec after moving up to ~80 arcsec


def test_deterministic_by_seed():
    a = pa.Table.from_batches(generate_synthetic_sky(1500, 300, 20, seed=3).radio())
    b = pa.Table.from_batches(generate_synthetic_sky(1500, 300, 20, seed=3).radio())
    c = pa.Table.from_batches(generate_synthetic_sky(1500, 300, 20, seed=4).radio())
    assert a.equals(b) and not a.equals(c)
    assert (
        generate_synthetic_sky(1500, 300, 20, seed=3)
        .truth()
        .equals(generate_synthetic_sky(1500, 300, 20, 3).truth())
    )


def test_stars_concentrate_toward_the_galactic_plane():
    stars = pa.Table.from_batches(generate_synthetic_sky(50_000, 0, 0, seed=1).stars())
    sin_b = np.abs(sin_galactic_latitude(stars["ra"].to_numpy(), stars["dec"].to_numpy()))
    low, high = (sin_b < np.sin(np.radians(10))).mean(), (sin_b > np.sin(np.radians(60))).mean()
    # Isotropic would give 0.17 and 0.13; the disc puts several times more near b = 0 than near the poles.
    assert low > 0.35 and high < 0.1
    assert (
        np.hypot(stars["pmra"].to_numpy(), stars["pmdec"].to_numpy()) > 500
    ).sum() >= 1  # a few fast movers


def test_radio_stars_sit_on_their_host_at_the_radio_epoch_within_noise():
    sky = generate_synthetic_sky(20_000, 2_000, 300, seed=9, region="cone:270,-30,20")
    stars = pa.Table.from_batches(sky.stars()).to_pandas().set_index("source_id")
    radio = pa.Table.from_batches(sky.radio()).to_pandas()
    radio["radio_id"] = "synthetic_radio:" + radio["source_id"].astype(str)
    truth = sky.truth().to_pandas().merge(radio, on="radio_id")
    assert len(truth) == 300 and len(radio) == 2_300 and radio["source_id"].is_unique
    host = stars.loc[truth["star_id"].str.split(":").str[1].astype(int)]
    ra_m, dec_m = propagate_linear(
        host["ra"].to_numpy(),
        host["dec"].to_numpy(),
        host["pmra"].to_numpy(),
        host["pmdec"].to_numpy(),
        truth["epoch"].to_numpy() - STAR_EPOCH,
    )
    # seen from the Earth on the radio date (astropy's ephemeris, independent of the generator's ERFA call)
    plx = truth["star_parallax_mas"].to_numpy()
    star_au = SkyCoord(ra_m * u.deg, dec_m * u.deg).cartesian.xyz.to_value() / np.radians(plx / 3.6e6)
    earth = get_body_barycentric("earth", Time(truth["epoch"].to_numpy(), format="jyear")).xyz.to_value(u.au)
    seen = SkyCoord(CartesianRepresentation(star_au - earth))
    ra_t, dec_t = seen.ra.deg, seen.dec.deg
    np.testing.assert_allclose(ra_t, truth["star_ra_at_epoch"], atol=1e-9)
    shift = SkyCoord(ra_m * u.deg, dec_m * u.deg).separation(seen).arcsec
    assert shift.max() > 0.03 and (shift <= plx / 1000 * 1.03).all()  # parallax moved them, within 1.03 AU
    sep = (
        SkyCoord(ra_t * u.deg, dec_t * u.deg)
        .separation(SkyCoord(truth["ra"].to_numpy() * u.deg, truth["dec"].to_numpy() * u.deg))
        .arcsec
    )
    chi2 = (sep / truth["ra_error"].to_numpy()) ** 2  # offset in units of the row's own error: chi2, 2 dof
    assert 1.5 < chi2.mean() < 2.6
    moved = (
        SkyCoord(host["ra"].to_numpy() * u.deg, host["dec"].to_numpy() * u.deg)
        .separation(SkyCoord(ra_t * u.deg, dec_t * u.deg))
        .arcsec
    )
    assert (moved > 10).sum() >= 10  # fast-moving hosts: unmatched without proper motion
    assert sky.region.contains(stars["ra"].to_numpy(), stars["dec"].to_numpy()).all()
