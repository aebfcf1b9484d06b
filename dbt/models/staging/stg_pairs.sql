-- Pairs point at radio sources and stars, and only survey_summary reads them: the view is built after
-- int_best_matches, so that its tests (two reference checks over a run's million pairs, 2 s) run while
-- int_best_matches is being built rather than before it. dbt starts the ready node of the lowest graph
-- level first; without this, the pairs' tests (a level lower) took both threads as int_best_matches
-- became ready.
-- depends_on: {{ ref('int_best_matches') }}
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
    population,
    star_ra_at_epoch as star_ra_at_epoch_deg,
    star_dec_at_epoch as star_dec_at_epoch_deg
from {{ source('load', 'pairs') }}
