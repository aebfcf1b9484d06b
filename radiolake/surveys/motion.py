"""How far a star can lie from where a radio source sees it: the one statement of the motion margin.

Two layers need the same bound. The cross-match (crossmatch.plan, crossmatch.engine) widens its search by
the largest displacement of the stars it reads; the footprint fetch (ingest.footprint) widens a radio
catalogue's footprint by it before the stars exist, with the largest proper motion and parallax of any star.
The ingest sits below the cross-match and may not import it, so the formula lives here, in the foundation
layer both import: a star moves by at most (largest proper motion x largest epoch gap) plus its annual
parallax seen from the Earth at its farthest from the barycentre; a star that matches a radio source within
`radius` therefore lies within radius + that displacement of it at its catalogue epoch.
"""

from __future__ import annotations

#: AU: the Earth's largest distance from the solar-system barycentre: aphelion 1.017 plus the Sun's own motion
#: about the barycentre (up to ~0.01); bounds the parallactic displacement at parallax x this.
EARTH_BARYCENTRE_MAX_AU = 1.03
#: mas/yr: Barnard's star (10,393 mas/yr in Gaia DR3), the largest proper motion of any star.
MAX_STAR_PM_MASYR = 10_400.0
#: mas: Proxima Centauri (768 mas), the largest parallax of any star.
MAX_STAR_PARALLAX_MAS = 770.0


def max_displacement_arcsec(pm_max_masyr: float, max_abs_dt_years: float, parallax_max_mas: float = 0.0) -> float:
    """Upper bound of how far a star moves between its epoch and any radio date (arcsec): the largest proper
    motion over the largest epoch gap plus the largest parallax at the Earth's farthest from the barycentre."""
    return (float(pm_max_masyr) * float(max_abs_dt_years)
            + float(parallax_max_mas) * EARTH_BARYCENTRE_MAX_AU) / 1000.0


def motion_margin_arcsec(radius_arcsec: float, pm_max_masyr: float, max_abs_dt_years: float,
                         parallax_max_mas: float = 0.0) -> float:
    """How far from a radio source a star matching it within `radius_arcsec` can lie at its catalogue epoch."""
    return float(radius_arcsec) + max_displacement_arcsec(pm_max_masyr, max_abs_dt_years, parallax_max_mas)
