-- The stellar rows of the runs that count: those of the newest run of each radio survey x stellar
-- catalogue (stg_runs.is_latest_run). radio_stars takes a star's own columns (position, parallax,
-- photometry, motion) from here, and int_star_identities the astrometry it cross-identifies stars by.
-- The filter is an array from an init plan, so Postgres reads only those runs' load.stars partitions.
select *
from {{ ref('stg_stars') }}
where run_id = any(array(select run_id from {{ ref('stg_runs') }} where is_latest_run))
