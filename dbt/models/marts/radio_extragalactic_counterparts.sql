{{ config(materialized='view') }}
-- Radio sources whose best counterpart has no stellar evidence (population 'extragalactic': no significant
-- parallax or proper motion, e.g. a Gaia-detected quasar under a radio AGN; issue 21). They are never
-- radio-star candidates (grade C in radio_star_candidates), and are kept here because radio-loud quasars
-- and galaxies in Gaia are useful. association_probability is the probability that this source is the
-- counterpart, weighed against the density and prior of its own population. It reads int_best_matches, as
-- radio_star_candidates does, not that view: rebuilding a view drops the views over it.
select
    m.run_id || '|' || m.radio_id as candidate_key,
    m.run_id,
    runs.is_latest_run,
    m.survey,
    m.radio_id,
    m.star_id as counterpart_id,
    m.star_catalog,
    m.radio_ra_deg,
    m.radio_dec_deg,
    m.radio_epoch_jyear,
    m.separation_arcsec,
    m.separation_sigma,
    m.association_probability,
    m.likelihood_ratio,
    m.star_density_deg2 as population_density_deg2,
    m.parallax_mas,
    m.parallax_error_mas,
    m.pmra_mas_yr,
    m.pmdec_mas_yr,
    m.phot_g_mag,
    m.bp_rp_mag,
    m.flux_mjy,
    m.freq_mhz,
    m.region_key
from {{ ref('int_best_matches') }} as m
inner join {{ ref('int_runs') }} as runs on runs.run_id = m.run_id
where m.population = 'extragalactic'
