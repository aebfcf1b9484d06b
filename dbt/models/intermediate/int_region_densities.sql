-- Source densities per sky region: radio sources read (from the offset-sky statistics, which count every
-- radio source, matched or not) and stars around the matched radio sources (the density P(chance) used).
with star_density as (
    select
        region_key,
        avg(star_density_deg2) as mean_star_density_deg2,
        count(*) as n_matched_radio
    from {{ ref('int_best_matches') }}
    group by region_key
)

select
    o.run_id,
    o.region_key,
    o.region_order,
    o.region_pixel,
    o.region_ra_deg,
    o.region_dec_deg,
    o.region_area_deg2,
    o.n_radio,
    o.n_radio / o.region_area_deg2 as radio_density_deg2,
    coalesce(d.n_matched_radio, 0) as n_matched_radio,
    d.mean_star_density_deg2
from {{ ref('int_chance_rates') }} as o
left join star_density as d on d.region_key = o.region_key
