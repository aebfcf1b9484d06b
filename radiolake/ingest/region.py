"""Sky regions (cone, box, HEALPix cells): parsed from one string, used by TAP queries, URL templates and the
synthetic sky, so `--region` means the same thing for every source.

Syntax: ``cone:RA,DEC,RADIUS_DEG`` | ``box:RA_MIN,RA_MAX,DEC_MIN,DEC_MAX`` (RA may wrap, RA_MIN > RA_MAX) |
``healpix:ORDER:PIX[,PIX...]`` (nested). Empty or ``all`` means the whole sky.
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import cdshealpix.nested as hp
import numpy as np
from astropy.coordinates import Latitude, Longitude


class RegionError(ValueError):
    """The region string does not parse or is out of range."""


@dataclass(frozen=True)
class Region:
    kind: str  # "all" | "cone" | "box" | "healpix"
    params: tuple[float, ...] = ()
    pixels: tuple[int, ...] = ()

    def __str__(self) -> str:
        if self.kind == "all":
            return "all"
        if self.kind == "healpix":
            return f"healpix:{int(self.params[0])}:{','.join(map(str, self.pixels))}"
        return f"{self.kind}:{','.join(repr(float(p)) for p in self.params)}"

    def contains(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        ra, dec = np.asarray(ra, float), np.asarray(dec, float)
        if self.kind == "all":
            return np.ones(ra.shape, bool)
        if self.kind == "cone":
            ra0, dec0, r = np.radians(self.params)
            cos_sep = np.sin(dec0) * np.sin(np.radians(dec)) + np.cos(dec0) * np.cos(
                np.radians(dec)
            ) * np.cos(np.radians(ra) - ra0)
            return cos_sep >= np.cos(r)
        if self.kind == "box":
            ra_min, ra_max, dec_min, dec_max = self.params
            in_ra = (ra >= ra_min) & (ra < ra_max) if ra_min <= ra_max else (ra >= ra_min) | (ra < ra_max)
            return in_ra & (dec >= dec_min) & (dec <= dec_max)
        order = int(self.params[0])
        cells = hp.lonlat_to_healpix(Longitude(ra * u.deg), Latitude(dec * u.deg), order).astype(np.int64)
        return np.isin(cells, np.asarray(self.pixels, np.int64))

    def bounding_box(self) -> tuple[float, float, float, float]:
        """(ra_min, ra_max, dec_min, dec_max) enclosing the region, for uniform sampling by rejection."""
        if self.kind == "box":
            return self.params  # type: ignore[return-value]
        if self.kind == "cone":
            ra0, dec0, r = self.params
            dmin, dmax = max(-90.0, dec0 - r), min(90.0, dec0 + r)
            if dmin <= -90 or dmax >= 90:
                return (0.0, 360.0, dmin, dmax)
            half = np.degrees(
                np.arcsin(min(1.0, np.sin(np.radians(r)) / np.cos(np.radians(max(abs(dmin), abs(dmax))))))
            )
            if half >= 180:
                return (0.0, 360.0, dmin, dmax)
            return ((ra0 - half) % 360, (ra0 + half) % 360, dmin, dmax)
        return (0.0, 360.0, -90.0, 90.0)

    def area_fraction(self) -> float:
        """Fraction of the whole sky the region covers (sets synthetic source counts per region)."""
        if self.kind == "all":
            return 1.0
        if self.kind == "cone":
            return (1 - np.cos(np.radians(self.params[2]))) / 2
        if self.kind == "box":
            ra_min, ra_max, dec_min, dec_max = self.params
            width = (ra_max - ra_min) % 360 or 360.0
            return width / 360 * (np.sin(np.radians(dec_max)) - np.sin(np.radians(dec_min))) / 2
        return len(self.pixels) / (12 * 4 ** int(self.params[0]))

    def adql(self, ra_col: str, dec_col: str) -> str:
        """An ADQL condition selecting the region ('' for the whole sky)."""
        if self.kind == "all":
            return ""
        if self.kind == "cone":
            ra0, dec0, r = self.params
            return f"1=CONTAINS(POINT('ICRS', {ra_col}, {dec_col}), CIRCLE('ICRS', {ra0}, {dec0}, {r}))"
        if self.kind == "box":
            ra_min, ra_max, dec_min, dec_max = self.params
            ra_cond = (
                f"{ra_col} >= {ra_min} AND {ra_col} < {ra_max}"
                if ra_min <= ra_max
                else f"({ra_col} >= {ra_min} OR {ra_col} < {ra_max})"
            )
            return f"{ra_cond} AND {dec_col} BETWEEN {dec_min} AND {dec_max}"
        # HEALPix cells: query each cell's bounding cone; rows outside the cell are removed on read.
        conds = [Region.cone_around_pixel(int(self.params[0]), p).adql(ra_col, dec_col) for p in self.pixels]
        return "(" + " OR ".join(conds) + ")"

    def url_values(self) -> dict[str, float]:
        """Values for URL templates ({ra}, {dec}, {radius_deg}): the region's enclosing cone."""
        if self.kind == "cone":
            return {"ra": self.params[0], "dec": self.params[1], "radius_deg": self.params[2]}
        if self.kind == "box":
            ra_min, ra_max, dec_min, dec_max = self.params
            width = (ra_max - ra_min) % 360 or 360.0
            ra_c, dec_c = (ra_min + width / 2) % 360, (dec_min + dec_max) / 2
            corners_ra = np.array([ra_min, ra_max, ra_min, ra_max])
            corners_dec = np.array([dec_min, dec_min, dec_max, dec_max])
            cos_sep = np.sin(np.radians(dec_c)) * np.sin(np.radians(corners_dec)) + np.cos(
                np.radians(dec_c)
            ) * np.cos(np.radians(corners_dec)) * np.cos(np.radians(corners_ra - ra_c))
            radius = float(np.degrees(np.arccos(np.clip(cos_sep, -1, 1))).max())
            return {"ra": ra_c, "dec": dec_c, "radius_deg": radius}
        if self.kind == "healpix" and len(self.pixels) == 1:
            return Region.cone_around_pixel(int(self.params[0]), self.pixels[0]).url_values()
        raise RegionError(f"a URL source needs a cone or box region, not {self}")

    @staticmethod
    def cone_around_pixel(order: int, pixel: int) -> Region:
        lon, lat = hp.healpix_to_lonlat(np.array([pixel], np.uint64), order)
        # A pixel's circumradius stays below its nominal size (58.6 deg / 2**order); be generous.
        size_deg = 58.6 / 2**order * 1.5
        return Region("cone", (float(lon.deg[0]), float(lat.deg[0]), min(size_deg, 180.0)))


def parse_region(text: str | None) -> Region:
    """Parse the `--region` syntax (see module docstring)."""
    if text is None or text.strip() in ("", "all"):
        return Region("all")
    kind, _, rest = text.strip().partition(":")
    try:
        if kind == "cone":
            ra, dec, r = (float(x) for x in rest.split(","))
            if not (-90 <= dec <= 90 and 0 < r <= 180):
                raise RegionError(f"cone {text!r}: dec must be in [-90, 90] and 0 < radius <= 180")
            return Region("cone", (ra % 360, dec, r))
        if kind == "box":
            ra_min, ra_max, dec_min, dec_max = (float(x) for x in rest.split(","))
            if not (-90 <= dec_min < dec_max <= 90):
                raise RegionError(f"box {text!r}: need -90 <= dec_min < dec_max <= 90")
            return Region("box", (ra_min % 360, ra_max % 360 if ra_max != 360 else 360.0, dec_min, dec_max))
        if kind == "healpix":
            order_s, _, pix_s = rest.partition(":")
            order = int(order_s)
            pixels = tuple(sorted({int(p) for p in pix_s.split(",") if p.strip()}))
            if not 0 <= order <= 29 or not pixels or min(pixels) < 0 or max(pixels) >= 12 * 4**order:
                raise RegionError(f"healpix {text!r}: bad order or pixel")
            return Region("healpix", (float(order),), pixels)
    except ValueError as exc:
        if isinstance(exc, RegionError):
            raise
        raise RegionError(f"cannot parse region {text!r}: {exc}") from exc
    raise RegionError(f"unknown region kind {kind!r} in {text!r}; use cone:, box:, healpix: or all")
