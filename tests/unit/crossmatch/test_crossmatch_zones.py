"""Zone candidates: a superset of every pair within the reach, each pair once, on the awkward parts of the sky."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord, search_around_sky

from radiolake.crossmatch.zones import ra_half_width_deg, zone_candidates

# (ra centre, dec centre, spread deg): the poles, RA 0/360, the equator, a mid-latitude patch.
PATCHES = [(0.0, 90.0, 0.05), (180.0, -90.0, 0.05), (0.0, 0.0, 0.05), (359.99, 45.0, 0.05), (123.4, -62.0, 0.5)]


def _patch(rng, ra0, dec0, spread, n):
    dec = dec0 + rng.uniform(-spread, spread, n)
    dec = np.where(dec > 90.0, 180.0 - dec, np.where(dec < -90.0, -180.0 - dec, dec))  # folded over a pole
    ra = np.mod(ra0 + rng.uniform(-spread, spread, n) / max(np.cos(np.radians(dec0)), 1e-3), 360.0)
    ra[: n // 20] = rng.uniform(0, 360, n // 20)  # some rows anywhere in ra (near a pole they are close)
    return ra, dec


@pytest.mark.parametrize("ra0, dec0, spread", PATCHES)
@pytest.mark.parametrize("reach", [0.5, 2.4, 20.0])
def test_zone_candidates_hold_every_pair_within_reach_once(ra0, dec0, spread, reach):
    rng = np.random.default_rng(int(reach * 10) + int(abs(dec0)) + int(ra0))
    rra, rdec = _patch(rng, ra0, dec0, spread, 1000)
    sra, sdec = _patch(rng, ra0, dec0, spread, 5000)
    # stars put just inside the reach of radio rows, in every direction (zone and RA-window edges)
    pick = rng.integers(0, rra.size, 1000)
    near = SkyCoord(rra[pick] * u.deg, rdec[pick] * u.deg).directional_offset_by(
        rng.uniform(0, 360, pick.size) * u.deg, reach * rng.uniform(0.9, 0.999999, pick.size) * u.arcsec)
    sra = np.concatenate([sra, near.ra.deg])
    sdec = np.concatenate([sdec, near.dec.deg])

    i, j = zone_candidates(rra, rdec, sra, sdec, reach)

    got = set(zip(i.tolist(), j.tolist(), strict=True))
    assert len(got) == i.size, "a candidate pair came out twice"
    ri, si, _, _ = search_around_sky(SkyCoord(rra * u.deg, rdec * u.deg), SkyCoord(sra * u.deg, sdec * u.deg),
                                     reach * u.arcsec)
    truth = set(zip(ri.tolist(), si.tolist(), strict=True))
    assert truth, "the patch has pairs to find"
    assert truth <= got, f"{len(truth - got)} pairs within the reach are missing"
    assert len(got) < 50 * len(truth) + 1000, "the zones should stay tight"


def test_ra_half_width_is_whole_circle_near_the_pole_and_grows_with_latitude():
    w = ra_half_width_deg(np.array([0.0, 60.0, 89.9995, -90.0]), 2.0 / 3600)
    assert w[0] == pytest.approx(2.0 / 3600, abs=2e-6)
    assert w[1] == pytest.approx(2.0 / 3600 / np.cos(np.radians(60.0 + 2.0 / 3600)), abs=2e-6)
    assert w[2] == 180.0 and w[3] == 180.0


def test_empty_inputs_give_no_candidates():
    i, j = zone_candidates(np.zeros(0), np.zeros(0), np.array([1.0]), np.array([1.0]), 2.0)
    assert i.size == j.size == 0


def test_a_cone_ending_exactly_on_zone_edges_still_sees_the_middle_zone():
    # SRSC 1378 x HIP 63204 at 5": (dec + 90) / zone height is a whole number to rounding, so the padded cone
    # touches three zones; the star sits in the middle one.
    i, j = zone_candidates(np.array([194.2423]), np.array([-54.5875]), np.array([194.242734]),
                           np.array([-54.58731]), 5.0)
    assert list(zip(i, j, strict=True)) == [(0, 0)]
