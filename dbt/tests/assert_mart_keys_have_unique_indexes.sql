-- The keys of the big incremental tables are unique by a unique index, which refuses a duplicate row as
-- the build writes it (a fan-out in a join fails the model, naming the key), rather than by a `unique` test
-- that groups every row of the run again after the fact (docs/performance-log.md). This test fails
-- when an index is missing: a warehouse whose marts were built before the indexes were unique gets them
-- with `radiolake marts --full-refresh`.
with expected (relation, key_columns) as (
    values
        ('{{ ref('int_best_matches').include(database=false) }}', 'run_id,radio_id'),
        ('{{ ref('int_star_detections').include(database=false) }}', 'star_id,radio_id'),
        ('{{ ref('radio_stars').include(database=false) }}', 'star_id')
),

unique_indexes as (
    select
        i.indrelid,
        {{ catalog_column_names('i.indrelid', 'i.indkey::int2[]') }} as key_columns
    from pg_index as i
    where i.indisunique and i.indisvalid and i.indpred is null
)

select e.relation, e.key_columns as missing_unique_index
from expected as e
where not exists (
    select 1 from unique_indexes as u
    where u.indrelid = to_regclass(e.relation) and u.key_columns = e.key_columns
)
