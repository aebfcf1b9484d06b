-- The staging keys (run_id|id) are unique because every partition of the load tables has a primary key
-- on run_id and the table's key within a run, built by the load after COPY (radiolake/warehouse/load.py,
-- tables.py LoadTable.key), rather than by `unique` tests that group every key of a run again in each build
-- before the first model can start (docs/performance-log.md). Postgres refuses a duplicate row from any
-- writer. This test fails when a partition lacks its key: partitions loaded before keys were added get
-- theirs at the next load (load.ensure_load_schema).
with expected (parent, key_columns) as (
    values
        ('{{ source('load', 'radio_sources').include(database=false) }}', 'run_id,source_id'),
        ('{{ source('load', 'stars').include(database=false) }}', 'run_id,source_id'),
        ('{{ source('load', 'offset_stats').include(database=false) }}',
         'run_id,region_order,region_pixel,radius_arcsec'),
        ('{{ source('load', 'pairs').include(database=false) }}', 'run_id,radio_id,star_id'),
        ('{{ source('load', 'best').include(database=false) }}', 'run_id,radio_id')
),

partitions as (
    select e.parent, e.key_columns, i.inhrelid as partition
    from expected as e
    inner join pg_inherits as i on i.inhparent = to_regclass(e.parent)
),

primary_keys as (
    select
        k.conrelid,
        {{ catalog_column_names('k.conrelid', 'k.conkey') }} as key_columns
    from pg_constraint as k
    where k.contype = 'p'
)

select p.parent, p.partition::regclass::text as partition, p.key_columns as missing_primary_key
from partitions as p
where not exists (
    select 1 from primary_keys as k where k.conrelid = p.partition and k.key_columns = p.key_columns
)
