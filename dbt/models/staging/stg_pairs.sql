-- Every candidate pair of every run; int_run_survey_pairs counts them per radio survey.
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
