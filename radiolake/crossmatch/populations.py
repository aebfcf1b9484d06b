"""Which population a catalogue source belongs to: a star (its own astrometry says so) or not.

At Gaia depth the stellar catalogue holds quasars and galaxies beside the stars, and a radio AGN's true
counterpart is often one of them. The association step therefore weighs every candidate against the sky
density, and the prior, of its own *class* (Salvato et al. 2018, NWAY, does the same with priors on
magnitudes): a star at 30 pc against the few stars per deg^2 that near, a distant star against the
thousands of distant ones, a source with no stellar evidence against the quasars and galaxies.

Stellar evidence (Gaia DR3 practice, Lindegren et al. 2021):
- the astrometry is trusted as it is only with RUWE < 1.4 (no RUWE given, as in Hipparcos: trusted); with
  RUWE >= 1.4 (a poor single-star fit, often a binary) its errors are scaled by RUWE first, so only a
  parallax or motion that stays significant counts (a 50-sigma parallax at 20 pc does, a 6-sigma one not);
- the parallax, corrected for the global zero-point (-0.017 mas; Lindegren et al. 2021, A&A 649, A4) is
  significant (parallax / error > 5), or the proper motion is (|mu| / sigma_mu > 5; with no proper-motion
  errors in the catalogue, sigma_mu is taken as the parallax error in mas/yr, which is what Gaia DR3's
  five-parameter solutions give to within a few tens of per cent).
A quasar's parallax and motion are zero within their errors: 5 sigma by chance is ~1e-6 of them. A source
brighter than G (or Hipparcos Hp) = 12 is a star whatever its astrometry: the brightest quasar, 3C 273, has
V = 12.9, so no catalogue source that bright is extragalactic (Hipparcos' distant giants have parallaxes of
a few sigma and small motions, yet are stars).

Classes (integers, so they travel with the pairs and the density counts at no cost):
  0 EXTRAGALACTIC  no significant parallax or motion: quasars, galaxies, and what cannot be told apart
  1 UNCERTAIN      RUWE >= 1.4 and nothing significant once the errors are scaled: no claim either way
  2.. stars in bins of corrected parallax (STAR_PARALLAX_EDGES_MAS; motion or brightness only: the first),
      so that a star is weighed against stars about as near as itself
Pure numpy: the Spark tasks classify the stars they read.
"""

from __future__ import annotations

import numpy as np

#: Gaia DR3 global parallax zero-point (mas; Lindegren et al. 2021): true parallax = parallax - this.
PARALLAX_ZERO_POINT_MAS = -0.017
#: Significance (parallax or proper motion over its error) that makes a source a star.
STELLAR_MIN_SNR = 5.0
#: Gaia's limit for a trustworthy single-star astrometric solution (Lindegren et al. 2021, Gaia DR3 docs).
RUWE_MAX = 1.4
#: Sources brighter than this (G, or Hp where there is no G) are stars: brighter than any quasar.
STELLAR_BRIGHTER_THAN_MAG = 12.0
#: Star classes: inner edges of corrected parallax (mas).
STAR_PARALLAX_EDGES_MAS = (0.5, 0.7, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0)

EXTRAGALACTIC, UNCERTAIN, FIRST_STAR_CLASS = 0, 1, 2
N_CLASSES = FIRST_STAR_CLASS + len(STAR_PARALLAX_EDGES_MAS) + 1
#: Population name of each class (the pairs' `population` column).
POPULATIONS = ("extragalactic", "uncertain") + ("star",) * (N_CLASSES - FIRST_STAR_CLASS)
#: Catalogue columns the classification reads (absent or null: unknown).
POPULATION_COLUMNS = ("parallax", "parallax_error", "pmra", "pmdec", "pmra_error", "pmdec_error", "ruwe",
                      "phot_g_mean_mag", "hpmag")


# size: one array per catalogue column the classification reads (POPULATION_COLUMNS), as Spark tasks pass them
def star_classes(
    parallax: np.ndarray,
    parallax_error: np.ndarray,
    pmra: np.ndarray,
    pmdec: np.ndarray,
    pmra_error: np.ndarray,
    pmdec_error: np.ndarray,
    ruwe: np.ndarray,
    g_mag: np.ndarray | None = None,
    hp_mag: np.ndarray | None = None,
) -> np.ndarray:
    """The class (int8, see the module) of each source from its astrometry and brightness; NaN: unknown."""
    plx = np.asarray(parallax, dtype=np.float64) - PARALLAX_ZERO_POINT_MAS
    ruwe = np.asarray(ruwe, dtype=np.float64)
    untrusted = np.nan_to_num(ruwe, nan=0.0) >= RUWE_MAX
    # a poor single-star fit: its errors are scaled by RUWE before anything is judged significant
    inflate = np.where(untrusted, ruwe, 1.0)
    plx_err = np.asarray(parallax_error, dtype=np.float64) * inflate
    pmra, pmdec = np.asarray(pmra, dtype=np.float64), np.asarray(pmdec, dtype=np.float64)
    # sigma_mu: the catalogue's, else the parallax error (mas/yr ~ mas for Gaia's five-parameter solutions)
    e_ra = np.where(np.isfinite(pmra_error), np.asarray(pmra_error, dtype=np.float64) * inflate, plx_err)
    e_dec = np.where(np.isfinite(pmdec_error), np.asarray(pmdec_error, dtype=np.float64) * inflate, plx_err)
    with np.errstate(divide="ignore", invalid="ignore"):
        plx_snr = np.where(plx_err > 0, plx / plx_err, np.nan)
        # |mu| / sigma as a chi with 2 degrees of freedom: each component over its own error
        pm_snr = np.sqrt(np.square(pmra / e_ra) + np.square(pmdec / e_dec))
    pm_snr = np.where((e_ra > 0) & (e_dec > 0), pm_snr, np.nan)
    moving = np.nan_to_num(pm_snr, nan=0.0) > STELLAR_MIN_SNR
    parallactic = np.nan_to_num(plx_snr, nan=0.0) > STELLAR_MIN_SNR
    star_bin = np.searchsorted(np.asarray(STAR_PARALLAX_EDGES_MAS), np.where(parallactic, plx, 0.0), side="right")
    mag = np.full(plx.shape, np.nan) if g_mag is None else np.asarray(g_mag, dtype=np.float64)
    if hp_mag is not None:
        mag = np.where(np.isfinite(mag), mag, np.asarray(hp_mag, dtype=np.float64))
    bright = np.nan_to_num(mag, nan=np.inf) < STELLAR_BRIGHTER_THAN_MAG
    none = np.where(untrusted, UNCERTAIN, EXTRAGALACTIC)
    return np.where(parallactic | moving | bright, FIRST_STAR_CLASS + star_bin, none).astype(np.int8)


def classes_of(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """`star_classes` of a dict of float columns (absent ones unknown), `n` rows."""
    nan = np.full(n, np.nan)
    return star_classes(*(columns.get(c, nan) for c in POPULATION_COLUMNS))


def population_names(classes: np.ndarray) -> np.ndarray:
    """The population name of each class code."""
    return np.asarray(POPULATIONS, dtype=object)[np.asarray(classes, dtype=np.int64)]
