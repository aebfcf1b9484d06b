"""Links from a star in our tables to the public archives a person checks it in: the ESA Gaia archive and SIMBAD.

One place builds these URLs so the export, the run report and the demo all point to the same pages. Our star
ids are survey-prefixed (``gaia_dr3:4472832130942575872``, ``hip2:12345``, see ``radiolake.schema``); SIMBAD knows
Gaia DR3 and Hipparcos by name, so those link by identifier, and any other star (synthetic skies, surveys SIMBAD
does not index under our ids) links by position instead. Pure string building: no network access here.
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlencode

#: ESA Gaia archive TAP endpoint (IVOA TAP sync; the result opens in TOPCAT or a browser as a VOTable).
GAIA_TAP_SYNC = "https://gea.esac.esa.int/tap-server/tap/sync"
#: The Gaia release our `gaia_dr3:` ids come from, as its archive table.
GAIA_SOURCE_TABLE = "gaiadr3.gaia_source"
SIMBAD_BASE = "https://simbad.cds.unistra.fr/simbad"
#: Cone radius of the SIMBAD position fallback: a few times a radio position error, small enough to stay on one star.
SIMBAD_CONE_ARCSEC = 5.0

# Our survey prefix -> SIMBAD's name for the catalogue (an identifier SIMBAD resolves as "<name> <number>").
_SIMBAD_CATALOGUE = {"gaia_dr3": "Gaia DR3", "hip2": "HIP", "hip": "HIP"}
_GAIA_ID = re.compile(r"^(?:gaia[ _]?dr3[: ]\s*)?(\d{1,19})$", re.IGNORECASE)
_PREFIXED = re.compile(r"^([a-z0-9_]+):(.+)$", re.IGNORECASE)


def gaia_source_id(star_id: int | str | None) -> int | None:
    """The Gaia DR3 ``source_id`` inside one of our ids (``gaia_dr3:N``, ``Gaia DR3 N`` or plain ``N``), else None."""
    if star_id is None or isinstance(star_id, bool):
        return None
    if isinstance(star_id, int):
        return star_id if 0 < star_id < 2**63 else None
    match = _GAIA_ID.match(str(star_id).strip())
    if match is None:
        return None
    value = int(match.group(1))
    return value if 0 < value < 2**63 else None


def gaia_archive_url(gaia_source_id: int | str) -> str:
    """URL of the star's row in the ESA Gaia archive (``gaiadr3.gaia_source``, a TAP sync query by source_id).

    Accepts the integer, its string, or our ``gaia_dr3:`` id; anything else is not a Gaia star and raises
    ValueError (callers linking mixed catalogues check with :func:`gaia_source_id` first).
    """
    source_id = _parse_gaia(gaia_source_id)
    # The id is an int by now, so the ADQL holds no caller text.
    query = f"SELECT * FROM {GAIA_SOURCE_TABLE} WHERE source_id = {source_id}"
    return f"{GAIA_TAP_SYNC}?" + urlencode(
        {"REQUEST": "doQuery", "LANG": "ADQL", "FORMAT": "votable", "QUERY": query})


def simbad_identifier(star_id: int | str | None) -> str | None:
    """SIMBAD's name for one of our ids (``gaia_dr3:N`` -> ``Gaia DR3 N``, ``hip2:N`` -> ``HIP N``), else None."""
    if star_id is None:
        return None
    if isinstance(star_id, int) or str(star_id).strip().isdigit():
        source_id = gaia_source_id(star_id)  # a bare number is a Gaia source_id, as in gaia_archive_url
        return f"Gaia DR3 {source_id}" if source_id else None
    match = _PREFIXED.match(str(star_id).strip())
    if match is None:
        return None
    catalogue = _SIMBAD_CATALOGUE.get(match.group(1).lower())
    number = match.group(2).strip()
    if catalogue is None or not number.isdigit():
        return None
    return f"{catalogue} {int(number)}"


def simbad_url(identifier: int | str | None = None, *, ra_deg: float | None = None, dec_deg: float | None = None,
               radius_arcsec: float = SIMBAD_CONE_ARCSEC) -> str:
    """SIMBAD page of a star: by identifier when SIMBAD knows our id, else a cone around (ra_deg, dec_deg).

    `identifier` may be one of our survey-prefixed ids or a name SIMBAD resolves itself (``"HD 1"``).
    Raises ValueError when neither a usable identifier nor a finite ICRS position in degrees is given.
    """
    name = simbad_identifier(identifier)
    text = identifier.strip() if isinstance(identifier, str) else ""
    if name is None and text and _PREFIXED.match(text) is None:
        name = text  # a plain astronomical name, passed to SIMBAD's resolver as is
    if name is not None:
        return f"{SIMBAD_BASE}/sim-id?" + urlencode({"Ident": name})
    return simbad_cone_url(ra_deg, dec_deg, radius_arcsec)


def simbad_cone_url(ra_deg: float | None, dec_deg: float | None,
                    radius_arcsec: float = SIMBAD_CONE_ARCSEC) -> str:
    """SIMBAD objects within `radius_arcsec` of an ICRS position in degrees."""
    if ra_deg is None or dec_deg is None or not (math.isfinite(ra_deg) and math.isfinite(dec_deg)):
        raise ValueError("simbad_url needs a known identifier or a finite ra_deg/dec_deg position")
    if not -90.0 <= dec_deg <= 90.0:
        raise ValueError(f"dec_deg must be in [-90, 90], got {dec_deg}")
    coord = f"{ra_deg % 360.0:.7f} {dec_deg:+.7f}"
    return f"{SIMBAD_BASE}/sim-coo?" + urlencode(
        {"Coord": coord, "CooFrame": "ICRS", "CooEpoch": "2000", "CooEqui": "2000",
         "Radius": f"{radius_arcsec:g}", "Radius.unit": "arcsec"})


def star_links(star_id: int | str | None, ra_deg: float | None = None,
               dec_deg: float | None = None) -> dict[str, str | None]:
    """Both links for one table row: ``gaia_url`` (None unless a Gaia star) and ``simbad_url`` (None if nothing)."""
    gaia = gaia_source_id(star_id)
    try:
        simbad = simbad_url(star_id, ra_deg=ra_deg, dec_deg=dec_deg)
    except ValueError:
        simbad = None
    return {"gaia_url": gaia_archive_url(gaia) if gaia else None, "simbad_url": simbad}


def _parse_gaia(value: int | str) -> int:
    source_id = gaia_source_id(value)
    if source_id is None:
        raise ValueError(f"not a Gaia DR3 source_id: {value!r} (expected an integer or 'gaia_dr3:<integer>')")
    return source_id
