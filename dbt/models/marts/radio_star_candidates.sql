{{ config(materialized='view') }}
-- One row per radio source with a stellar counterpart (its best match), per run, with a reliability
-- grade. The grade rule is documented in marts.yml and checked by tests/assert_candidate_grades_follow_cuts.
-- A view over the incremental table int_best_matches (indexed by run_id and star_id): the latest-run flag
-- and the grade (cuts are dbt vars) are worked out when read, so a new run or new cuts never rewrite the
-- rows of older runs. The analyst reads it with its owner's rights; the intermediate schema stays closed.
select
    m.run_id || '|' || m.radio_id as candidate_key,
    m.run_id,
    runs.is_latest_run,
    m.survey,
    m.radio_id,
    m.star_id,
    m.star_catalog,
    m.radio_ra_deg,
    m.radio_dec_deg,
    m.radio_epoch_jyear,
    m.separation_arcsec,
    m.separation_sigma,
    m.p_chance,
    m.association_probability,
    m.population,
    m.likelihood_ratio,
    m.combined_error_arcsec,
    m.star_density_deg2,
    m.dt_years,
    m.pm_applied,
    m.parallax_mas,
    m.parallax_error_mas,
    m.parallax_snr,
    m.distance_pc,
    m.phot_g_mag,
    m.abs_g_mag,
    m.bp_rp_mag,
    m.pmra_mas_yr,
    m.pmdec_mas_yr,
    m.pm_total_mas_yr,
    m.flux_mjy,
    m.freq_mhz,
    m.radio_luminosity_erg_s_hz,
    m.region_key,
    c.false_match_rate_per_source as region_false_match_rate,
    {{ candidate_grade('m') }} as grade
from {{ ref('int_best_matches') }} as m
inner join {{ ref('int_runs') }} as runs on runs.run_id = m.run_id
left join {{ ref('int_chance_rates') }} as c on c.run_id = m.run_id and c.region_key = m.region_key
