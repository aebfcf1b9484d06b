-- One row per run. Runs of one radio x star catalogue combination supersede each other per footprint
-- (stg_run_footprints, issue 22): a newer run replaces an older one's detections only where it covered the
-- sky. newest_rank orders the runs of a combination (1 = newest); is_latest_run is true while a run is
-- still the newest somewhere: false once newer runs' footprints each contain the whole of one of its
-- ranges' cells, i.e. once a single newer run covers its whole footprint (a run a union of newer runs
-- covers stays true, and its rows are then removed one by one: macros/supersede.sql). Without footprints
-- (whole sky) this is the newest run of the combination, as before.
with runs as (
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
        ) as newest_rank
    from {{ source('load', 'runs') }}
),

footprints as (
    {{ run_footprint_ranges() }}
)

select
    r.*,
    not exists (
        select 1 from runs as newer
        where newer.radio_catalog is not distinct from r.radio_catalog
          and newer.star_catalog is not distinct from r.star_catalog
          and newer.newest_rank < r.newest_rank
          and not exists (  -- a range of r that this newer run does not contain
              select 1 from footprints as f
              where f.run_id = r.run_id and not exists (
                  select 1 from footprints as g
                  where g.run_id = newer.run_id and g.lo <= f.lo and f.hi <= g.hi))
    ) as is_latest_run
from runs as r
