{{ config(
    materialized='incremental',
    incremental_strategy='append',
    indexes=[{'columns': ['run_id']}],
    pre_hook="{{ delete_changed_runs(grade_vars()) }}",
    post_hook="{{ record_vars(grade_vars()) }}",
) }}
-- Per run and coarse HEALPix pixel (the offset-sky region order): densities, matches, expected chance
-- matches and candidates per grade, with the pixel centre for maps. Incremental by run
-- (macros/incremental_runs.sql): a build adds the runs loaded since the last one (dbt's own incremental
-- materialization: a few rows per run). Grades are those of radio_star_candidates: the same macro over the
-- same table (int_best_matches), as marts read intermediate models only.
{% set runs = runs_to_add() %}
with candidates as (
    select
        run_id,
        region_key,
        count(*) as n_matches,
        avg(star_density_deg2 order by star_density_deg2) as mean_star_density_deg2,  -- ordered: same bits every build
        count(*) filter (where grade = 'A') as n_grade_a,
        count(*) filter (where grade = 'B') as n_grade_b,
        count(*) filter (where grade = 'C') as n_grade_c
    from (
        select m.run_id, m.region_key, m.star_density_deg2, {{ candidate_grade('m') }} as grade
        from {{ ref('int_best_matches') }} as m
        where m.run_id = any({{ runs }})
    ) as graded
    group by run_id, region_key
)

-- Radio sources read per region come from the offset-sky statistics (they count every radio source,
-- matched or not); the stellar density is the mean around the matched radio sources (what P(chance) used).
select
    r.region_key,
    r.run_id,
    r.region_order,
    r.region_pixel,
    r.region_ra_deg,
    r.region_dec_deg,
    r.region_area_deg2,
    r.n_radio,
    r.n_radio / r.region_area_deg2 as radio_density_deg2,
    c.mean_star_density_deg2,
    coalesce(c.n_matches, 0) as n_matches,
    r.expected_false_matches,
    r.false_match_rate_per_source,
    coalesce(c.n_grade_a, 0) as n_grade_a,
    coalesce(c.n_grade_b, 0) as n_grade_b,
    coalesce(c.n_grade_c, 0) as n_grade_c,
    runs.loaded_at as run_loaded_at
from {{ ref('int_chance_rates') }} as r
inner join {{ ref('int_runs') }} as runs on runs.run_id = r.run_id
left join candidates as c on c.run_id = r.run_id and c.region_key = r.region_key
where r.run_id = any({{ runs }})
