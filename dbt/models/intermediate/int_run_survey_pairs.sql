{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['run_id']}],
    pre_hook="{{ delete_changed_runs() }}",
) }}
-- Pairs per run and radio survey (survey_summary's n_pairs), counted once per run. Incremental by run
-- (macros/incremental_runs.sql): a build counts the runs loaded (or reloaded) since the last one. dbt's own
-- incremental materialization: the rows are few, so its temporary table costs nothing.
-- A run whose radio sources are all of one survey (the usual case: a run reads one radio catalogue) has
-- all its pairs in that survey: a count of its pairs, no join of a million pairs to their radio sources.
-- Runs mixing surveys count through that join.
{% set runs = runs_to_add() %}
with run_surveys as (
    select run_id, min(survey) as survey, max(survey) as max_survey
    from {{ ref('stg_radio_sources') }}
    where run_id = any({{ runs }})
    group by run_id
),

counts as (
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
)

select c.run_id, c.survey, c.n_pairs, runs.loaded_at as run_loaded_at
from counts as c
inner join {{ ref('stg_runs') }} as runs on runs.run_id = c.run_id
