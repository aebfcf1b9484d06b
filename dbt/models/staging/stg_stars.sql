select
    run_id,
    run_id || '|' || source_id as star_key,
    source_id as star_id,
    survey as star_catalog,
    ra as ra_deg,
    dec as dec_deg,
    ra_error as ra_error_arcsec,
    dec_error as dec_error_arcsec,
    epoch as epoch_jyear,
    pmra as pmra_mas_yr,
    pmdec as pmdec_mas_yr,
    parallax as parallax_mas,
    parallax_error as parallax_error_mas,
    healpix as healpix29,
    phot_g_mean_mag as phot_g_mag,
    phot_bp_mean_mag as phot_bp_mag,
    phot_rp_mean_mag as phot_rp_mag,
    -- Catalogues that give BP and RP magnitudes but no colour column (e.g. the Gaia G < 10 sample) get
    -- BP - RP computed, rather than an empty colour.
    coalesce(bp_rp, phot_bp_mean_mag - phot_rp_mean_mag) as bp_rp_mag
from {{ source('load', 'stars') }}
