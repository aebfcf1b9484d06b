-- Pairs point at radio sources and stars: built (and tested) after those two are, so their reference
-- tests read checked parents. It also lets dbt test the pairs, which only survey_summary reads, while
-- int_best_matches is being built rather than before it (dbt runs a graph level at a time).
-- depends_on: {{ ref('stg_radio_sources') }}, {{ ref('stg_stars') }}
select
    run_id,
    run_id || '|' || radio_id || '|' || star_id as pair_key,
    run_id || '|' || radio_id as radio_key,
    run_id || '|' || star_id as star_key,
    radio_id,
    star_id,
    separation_arcsec,
    separation_sigma,
    dt_years,
    pm_applied,
    rank as match_rank,
    star_density_deg2,
    p_chance,
    combined_error_arcsec,
    likelihood_ratio,
    association_probability,
    star_ra_at_epoch as star_ra_at_epoch_deg,
    star_dec_at_epoch as star_dec_at_epoch_deg
from {{ source('load', 'pairs') }}
