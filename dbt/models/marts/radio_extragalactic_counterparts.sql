{{ config(materialized='view') }}
-- Radio sources whose best counterpart has no stellar evidence (population 'extragalactic': no significant
-- parallax or proper motion, e.g. a Gaia-detected quasar under a radio AGN; issue 21). They are never
-- radio-star candidates (grade C in radio_star_candidates), and are kept here because radio-loud quasars
-- and galaxies in Gaia are useful. association_probability is the probability that this source is the
-- counterpart, weighed against the density and prior of its own population.
select
    candidate_key,
    run_id,
    is_latest_run,
    survey,
    radio_id,
    star_id as counterpart_id,
    star_catalog,
    radio_ra_deg,
    radio_dec_deg,
    radio_epoch_jyear,
    separation_arcsec,
    separation_sigma,
    association_probability,
    likelihood_ratio,
    star_density_deg2 as population_density_deg2,
    parallax_mas,
    parallax_error_mas,
    pmra_mas_yr,
    pmdec_mas_yr,
    phot_g_mag,
    bp_rp_mag,
    flux_mjy,
    freq_mhz,
    region_key
from {{ ref('radio_star_candidates') }}
where population = 'extragalactic'
