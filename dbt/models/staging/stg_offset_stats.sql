-- One row per run, sky region and radius of the grid at which chance matches were counted.
select
    run_id,
    run_id || '|' || region_order || '|' || region_pixel || '|' || radius_arcsec as stat_key,
    run_id || '|' || region_order || '|' || region_pixel as region_key,
    region_order,
    region_pixel,
    region_ra as region_ra_deg,
    region_dec as region_dec_deg,
    {{ healpix_area_deg2('region_order') }} as region_area_deg2,
    radius_arcsec,
    n_offsets,
    n_radio,
    false_matches_total,
    expected_false_matches
from {{ source('load', 'offset_stats') }}
