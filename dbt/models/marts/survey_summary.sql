{{ config(
    materialized='incremental_direct',
    indexes=[{'columns': ['run_id']}],
    pre_hook="{{ delete_changed_runs(grade_vars()) }}",
    post_hook=["{{ record_vars(grade_vars()) }}", "{{ refresh_latest_run_flags() }}"],
) }}
-- Per run and radio survey: how many sources were read and matched, how many matches are expected to be
-- chance (offset skies), and how many candidates reached each grade. Incremental by run
-- (macros/incremental_runs.sql); is_latest_run is refreshed on every build (a newer run of the same
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
    from {{ ref('radio_star_candidates') }}
    where run_id = any({{ runs }})
    group by run_id, survey
),

-- Pairs per survey. A run whose radio sources are all of one survey (the usual case: a run reads one radio
-- catalogue) has all its pairs in that survey: a count of its pairs, no join of a million pairs to their
-- radio sources. Runs mixing surveys count through that join.
run_surveys as (
    select run_id, min(survey) as survey, max(survey) as max_survey
    from {{ ref('stg_radio_sources') }}
    where run_id = any({{ runs }})
    group by run_id
),

pairs as (
    select s.run_id, s.survey, p.n_pairs
    from run_surveys as s
    inner join (
        select run_id, count(*) as n_pairs
        from {{ ref('stg_pairs') }}
        where run_id = any({{ runs }})
        group by run_id
    ) as p on p.run_id = s.run_id
    where s.survey = s.max_survey
    union all
    select p.run_id, r.survey, count(*) as n_pairs
    from {{ ref('stg_pairs') }} as p
    inner join {{ ref('stg_radio_sources') }} as r on r.run_id = p.run_id and r.radio_id = p.radio_id
    where p.run_id = any(array(select run_id from run_surveys where survey <> max_survey))
      and r.run_id = any(array(select run_id from run_surveys where survey <> max_survey))
    group by p.run_id, r.survey
),

false_matches as (
    select run_id, sum(expected_false_matches) as expected_false_matches
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
inner join {{ ref('stg_runs') }} as runs on runs.run_id = c.run_id
inner join pairs as p on p.run_id = c.run_id and p.survey = c.survey
left join false_matches as f on f.run_id = c.run_id
