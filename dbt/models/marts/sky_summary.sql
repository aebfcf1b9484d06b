{{ config(indexes=[{'columns': ['run_id']}]) }}
-- Per run and coarse HEALPix pixel (the offset-sky region order): densities, matches, expected chance
-- matches and candidates per grade, with the pixel centre for maps.
with candidates as (
    select
        region_key,
        count(*) as n_matches,
        count(*) filter (where grade = 'A') as n_grade_a,
        count(*) filter (where grade = 'B') as n_grade_b,
        count(*) filter (where grade = 'C') as n_grade_c
    from {{ ref('radio_star_candidates') }}
    group by region_key
)

select
    d.region_key,
    d.run_id,
    d.region_order,
    d.region_pixel,
    d.region_ra_deg,
    d.region_dec_deg,
    d.region_area_deg2,
    d.n_radio,
    d.radio_density_deg2,
    d.mean_star_density_deg2,
    coalesce(c.n_matches, 0) as n_matches,
    r.expected_false_matches,
    r.false_match_rate_per_source,
    coalesce(c.n_grade_a, 0) as n_grade_a,
    coalesce(c.n_grade_b, 0) as n_grade_b,
    coalesce(c.n_grade_c, 0) as n_grade_c
from {{ ref('int_region_densities') }} as d
inner join {{ ref('int_chance_rates') }} as r on r.region_key = d.region_key
left join candidates as c on c.region_key = d.region_key
