-- One row per run; is_latest_run marks the newest run of each radio x star catalogue combination.
select
    run_id,
    created_utc as created_at,
    radio_catalog,
    star_catalog,
    radius_arcsec,
    n_sigma,
    n_offsets,
    offset_arcmin,
    n_radio as n_radio_read,
    n_stars as n_stars_read,
    n_pairs,
    n_best,
    expected_false_matches,
    -- The exact catalogue versions the run read (pinned by the runner; null for runs from before pinning).
    run_json -> 'catalog_versions' -> 'radio' ->> 'version' as radio_catalog_version,
    run_json -> 'catalog_versions' -> 'stars' ->> 'version' as star_catalog_version,
    source_uri,
    loaded_at,
    row_number() over (
        partition by radio_catalog, star_catalog
        order by created_utc desc nulls last, loaded_at desc, run_id desc
    ) = 1 as is_latest_run
from {{ source('load', 'runs') }}
