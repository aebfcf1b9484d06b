{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['run_id']}],
    pre_hook="{{ delete_changed_runs(grade_vars()) }}",
    post_hook=["{{ record_vars(grade_vars()) }}", "{{ refresh_latest_run_flags() }}"],
) }}
-- Per run and radio survey: how many sources were read and matched, how many matches are expected to be
-- chance (offset skies), and how many candidates reached each grade. Incremental by run
-- (macros/incremental_runs.sql; dbt's own incremental materialization: a few rows per run); grades as in
-- radio_star_candidates (the same macro over int_best_matches), pairs counted by int_run_survey_pairs;
-- is_latest_run is refreshed on every build (a newer run of the same
-- catalogues clears the older run's flag), which touches a few rows of this small table.
{% set runs = runs_to_add() %}
with candidates as (
    select
        run_id,
        survey,
        count(*) as n_matched,
        count(*) filter (where grade = 'A') as n_grade_a,
        count(*) filter (where grade = 'B') as n_grade_b,
        count(*) filter (where grade = 'C') as n_grade_c,
        count(distance_pc) as n_with_distance,
        percentile_cont(0.5) within group (order by separation_arcsec) as median_separation_arcsec
    from (
        select m.run_id, m.survey, m.distance_pc, m.separation_arcsec, {{ candidate_grade('m') }} as grade
        from {{ ref('int_best_matches') }} as m
        where m.run_id = any({{ runs }})
    ) as graded
    group by run_id, survey
),

pairs as (
    select run_id, survey, n_pairs from {{ ref('int_run_survey_pairs') }} where run_id = any({{ runs }})
),

false_matches as (
    select run_id, sum(expected_false_matches order by region_key) as expected_false_matches
    from {{ ref('int_chance_rates') }}
    where run_id = any({{ runs }})
    group by run_id
)

select
    c.run_id || '|' || c.survey as summary_key,
    c.run_id,
    c.survey,
    runs.star_catalog,
    runs.radio_catalog_version,
    runs.star_catalog_version,
    runs.created_at,
    runs.is_latest_run,
    runs.radius_arcsec,
    runs.n_radio_read,
    c.n_matched,
    p.n_pairs,
    coalesce(f.expected_false_matches, 0) as expected_false_matches,
    coalesce(f.expected_false_matches, 0) / c.n_matched as expected_false_fraction,
    c.n_grade_a,
    c.n_grade_b,
    c.n_grade_c,
    c.n_with_distance,
    c.median_separation_arcsec,
    runs.loaded_at as run_loaded_at
from candidates as c
inner join {{ ref('int_runs') }} as runs on runs.run_id = c.run_id
inner join pairs as p on p.run_id = c.run_id and p.survey = c.survey
left join false_matches as f on f.run_id = c.run_id
