"""The canonical catalogue schema every survey is mapped onto at ingest.

Cross-match, warehouse and reports rely on exactly these names and units, so they live in one place.
Survey-specific columns (fluxes, magnitudes) ride along after the canonical ones, with units recorded in the
catalogue metadata.
"""

from __future__ import annotations

import pyarrow as pa

#: Fine nested HEALPix order of the `healpix` column: any coarser order k is `healpix >> 2*(29-k)`.
HEALPIX_ORDER = 29

CANONICAL_FIELDS: list[pa.Field] = [
    pa.field("source_id", pa.string(), nullable=False),  # survey-prefixed, e.g. "gaia_dr3:4472832130942575872"
    pa.field("ra", pa.float64(), nullable=False),  # deg, ICRS, at `epoch`, in [0, 360)
    pa.field("dec", pa.float64(), nullable=False),  # deg, in [-90, 90]
    pa.field("ra_error", pa.float64()),  # arcsec, 1 sigma, on the sky (times cos dec)
    pa.field("dec_error", pa.float64()),  # arcsec, 1 sigma
    pa.field("epoch", pa.float64(), nullable=False),  # Julian year of the position
    pa.field("pmra", pa.float64()),  # mas/yr, includes cos dec; null when unknown
    pa.field("pmdec", pa.float64()),  # mas/yr
    pa.field("parallax", pa.float64()),  # mas
    pa.field("parallax_error", pa.float64()),  # mas
    pa.field("healpix", pa.int64(), nullable=False),  # nested index at HEALPIX_ORDER
]

CANONICAL_SCHEMA = pa.schema(CANONICAL_FIELDS)
CANONICAL_COLUMNS = [f.name for f in CANONICAL_FIELDS]

UNITS = {
    "ra": "deg", "dec": "deg", "ra_error": "arcsec", "dec_error": "arcsec", "epoch": "yr (Julian)",
    "pmra": "mas/yr", "pmdec": "mas/yr", "parallax": "mas", "parallax_error": "mas",
}


def coarse_pixel(healpix_fine, order: int):
    """Nested index at `order` from the fine index (works on ints and numpy arrays)."""
    return healpix_fine >> (2 * (HEALPIX_ORDER - order))


#: Survey-specific columns with standard names, so marts can use them whatever the survey. Optional: a
#: survey maps what it has. Units are part of the name where a name could be ambiguous.
STANDARD_EXTRA_FIELDS: list[pa.Field] = [
    pa.field("flux_peak_mjy", pa.float64()),  # radio peak flux density, mJy/beam
    pa.field("flux_int_mjy", pa.float64()),  # radio integrated flux density, mJy
    pa.field("flux_error_mjy", pa.float64()),
    pa.field("freq_mhz", pa.float64()),  # observing frequency of the radio row, MHz
    # Stokes V (circular polarisation), signed, where the survey measures it: |V|/I separates stars (often
    # > 6 %) from background AGN (rarely > 2 %). Null where V was not measured, which is not V = 0.
    pa.field("flux_v_peak_mjy", pa.float64()),  # Stokes V peak flux density, mJy/beam
    pa.field("flux_v_int_mjy", pa.float64()),  # Stokes V integrated flux density, mJy
    pa.field("flux_v_error_mjy", pa.float64()),  # 1 sigma of V (the local V rms for a peak), mJy
    pa.field("phot_g_mean_mag", pa.float64()),  # Gaia G (or the survey's closest band), mag
    pa.field("phot_bp_mean_mag", pa.float64()),
    pa.field("phot_rp_mean_mag", pa.float64()),
    pa.field("bp_rp", pa.float64()),  # colour, mag
    # Radio 1-sigma positional error ellipse (arcsec, arcsec, deg east of north), when the survey gives one
    # (mapped directly or derived from the component shape: surveys/definitions/README.md, `positions`).
    pa.field("pos_err_major", pa.float64()),
    pa.field("pos_err_minor", pa.float64()),
    pa.field("pos_err_pa", pa.float64()),
    # Years over which the row's date is only known to lie (the survey span, when the catalogue gives no date
    # per row; `epoch` is then its middle): the cross-match adds the star's motion over it to the covariance.
    pa.field("epoch_span_years", pa.float64()),
]
