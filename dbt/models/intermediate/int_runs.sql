-- The runs as the marts read them (run metadata, loaded_at for the incremental bookkeeping, and
-- is_latest_run): marts read intermediate models only, so the run table reaches them through here rather
-- than from staging. A view: nothing is copied, and a new run is seen as soon as it is loaded.
select * from {{ ref('stg_runs') }}
