"""Gaia archive / SIMBAD links built from our survey-prefixed star ids (radiolake.links)."""

from urllib.parse import parse_qs, urlparse

import pytest

from radiolake.links import gaia_archive_url, gaia_source_id, simbad_url, star_links


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


@pytest.mark.parametrize("value", [4472832130942575872, "4472832130942575872", "gaia_dr3:4472832130942575872",
                                   "Gaia DR3 4472832130942575872"])
def test_gaia_archive_url_queries_the_source_id(value):
    url = gaia_archive_url(value)
    assert url.startswith("https://gea.esac.esa.int/tap-server/tap/sync?")
    assert _query(url)["QUERY"] == "SELECT * FROM gaiadr3.gaia_source WHERE source_id = 4472832130942575872"


@pytest.mark.parametrize("value", ["hip2:123", "1; DROP TABLE x", "", "gaia_dr3:abc", -5, 0])
def test_gaia_archive_url_refuses_what_is_not_a_gaia_id(value):
    with pytest.raises(ValueError, match="not a Gaia DR3 source_id"):
        gaia_archive_url(value)


def test_simbad_by_identifier_and_by_position():
    assert _query(simbad_url("gaia_dr3:42"))["Ident"] == "Gaia DR3 42"
    assert _query(simbad_url("hip2:87937"))["Ident"] == "HIP 87937"
    assert _query(simbad_url("HD 1"))["Ident"] == "HD 1"
    cone = simbad_url("synthetic_stars:7", ra_deg=370.25, dec_deg=-12.5)
    assert "/sim-coo?" in cone and _query(cone)["Coord"] == "10.2500000 -12.5000000"
    with pytest.raises(ValueError):
        simbad_url("synthetic_stars:7")
    with pytest.raises(ValueError):
        simbad_url(None, ra_deg=1.0, dec_deg=91.0)


def test_star_links_only_link_gaia_for_gaia_stars():
    assert gaia_source_id("hip2:5") is None
    hip = star_links("hip2:5", 1.0, 2.0)
    assert hip["gaia_url"] is None and "HIP+5" in hip["simbad_url"]
    assert star_links("synthetic_stars:1") == {"gaia_url": None, "simbad_url": None}
    assert "source_id+%3D+9" in star_links("gaia_dr3:9")["gaia_url"]
