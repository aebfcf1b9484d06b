select
    run_id,
    run_id || '|' || source_id as radio_key,
    source_id as radio_id,
    survey,
    ra as ra_deg,
    dec as dec_deg,
    ra_error as ra_error_arcsec,
    dec_error as dec_error_arcsec,
    epoch as epoch_jyear,
    healpix as healpix29,
    flux_peak_mjy as flux_peak_mjy_beam,
    flux_int_mjy,
    flux_error_mjy,
    freq_mhz,
    flux_v_peak_mjy as flux_v_peak_mjy_beam,
    flux_v_int_mjy,
    flux_v_error_mjy
from {{ source('load', 'radio_sources') }}
