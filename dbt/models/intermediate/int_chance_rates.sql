-- Chance-match rates per sky region from the offset skies: matches found around shifted radio positions
-- are unrelated stars, so their mean count is the expected number of false matches in the real sky.
-- Counts come on a grid of radii; the largest of a run is its match radius, the one that applies to pairs.
with match_radius as (
    select run_id, max(radius_arcsec) as radius_arcsec
    from {{ ref('stg_offset_stats') }}
    group by run_id
)

select
    o.run_id,
    o.region_key,
    o.region_order,
    o.region_pixel,
    o.region_ra_deg,
    o.region_dec_deg,
    o.region_area_deg2,
    o.radius_arcsec,
    o.n_offsets,
    o.n_radio,
    o.false_matches_total,
    o.expected_false_matches,
    case when o.n_radio > 0 then o.expected_false_matches / o.n_radio end as false_match_rate_per_source
from {{ ref('stg_offset_stats') }} as o
inner join match_radius as m on m.run_id = o.run_id and m.radius_arcsec = o.radius_arcsec
