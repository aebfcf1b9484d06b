{# Materialization `incremental_direct`: dbt's `incremental` (append strategy), except that an incremental
   build inserts the model's rows straight from its query instead of through a temporary table.

   Why: dbt's incremental materialization first writes the new rows into a temporary table, then copies
   them into the model's table (the temporary table lets a delete+insert or merge strategy read one
   snapshot twice). Our incremental models only append (what they replace, a pre-hook deletes first), so
   the copy is pure cost: for the 666 k best matches of a 1 M-pair run it was a third of each star-level
   model's time. Here the query becomes a temporary *view*, which costs nothing to create and still gives
   dbt the model's columns for `on_schema_change` and type widening, and one INSERT ... SELECT reads it.
   The first build, --full-refresh and a view in the table's place go through a new table swapped in,
   as in dbt's incremental materialization.

   A build that adds at least as many rows as the table holds (config `new_rows_estimate`: the name of a
   macro returning a query for the expected number of new rows) rewrites the table in place instead: the
   kept rows go to a temporary table, the table's indexes are dropped, the table is truncated and refilled
   (kept + new rows), and the indexes are built again from their own definitions. Inserting a million rows
   into an indexed table maintains every index row by row and logs it all; a table truncated in the build's
   own transaction is refilled without WAL on a server with wal_level=minimal and indexed once (about half
   the time for a run's worth of detections: docs/performance-log.md). The table itself stays (not a new one swapped in), so the views over it, its grants and its
   comment stay too. Truncating locks the table against readers until the build's commit; small
   increments stay inserts, which never take more than a row lock on what analysts read.

   Hooks, grants, docs, indexes and the transaction are as in dbt's own incremental materialization
   (dbt-core 1.11, global_project/macros/materializations/models/incremental/incremental.sql), which this
   follows line for line apart from the temporary relation and the rewrite. #}
{% materialization incremental_direct, adapter='postgres' -%}

  {%- set existing_relation = load_cached_relation(this) -%}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set temp_relation = make_temp_relation(target_relation).incorporate(type='view') -%}
  {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}

  {%- set full_refresh_mode = (should_full_refresh() or existing_relation.is_view) -%}
  {%- set on_schema_change = incremental_validate_on_schema_change(config.get('on_schema_change'), default='ignore') -%}

  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  {% set grant_config = config.get('grants') %}
  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% set to_drop = [] %}
  {% set need_swap = false %}

  {#- A first build, a full refresh and a rewrite write a whole table's worth of rows: hash joins only.
      Row estimates of joins on (run_id, id) and of aggregated CTEs are far too low (one run_id per
      partition; 200 groups), and on them the planner probes the load partitions' primary keys a million
      times (slower for radio_stars and int_best_matches, where hash joins also let the query run in
      parallel: docs/performance-log.md). Small increments keep the planner's choice, for
      which such probes are the right plan. -#}
  {% set rewrite = existing_relation is not none and not full_refresh_mode and rewrite_is_cheaper(target_relation) %}
  {% if existing_relation is none or full_refresh_mode or rewrite %}
      {% do run_query('set local enable_nestloop = off') %}
  {% endif %}

  {% if existing_relation is none %}
      {% set build_sql = get_create_table_as_sql(False, target_relation, sql) %}
      {% set relation_for_indexes = target_relation %}
  {% elif full_refresh_mode %}
      {% set build_sql = get_create_table_as_sql(False, intermediate_relation, sql) %}
      {% set relation_for_indexes = intermediate_relation %}
      {% set need_swap = true %}
  {% else %}
      {#- Unlike dbt's incremental: a temporary view, not a temporary table (and the rewrite below). -#}
      {% do run_query('create temporary view ' ~ temp_relation ~ ' as (\n' ~ sql ~ '\n)') %}
      {% do adapter.expand_target_column_types(from_relation=temp_relation, to_relation=target_relation) %}
      {% set dest_columns = process_schema_changes(on_schema_change, temp_relation, existing_relation) %}
      {% if not dest_columns %}
          {% set dest_columns = adapter.get_columns_in_relation(existing_relation) %}
      {% endif %}
      {% if rewrite %}
          {%- set columns_csv = get_quoted_csv(dest_columns | map(attribute='name')) -%}
          {%- set kept_relation = make_temp_relation(target_relation, '__dbt_kept') -%}
          {%- set indexes = run_query("select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index"
                                      ~ " where indrelid = '" ~ target_relation ~ "'::regclass") -%}
          {%- set index_definitions = indexes.columns[1].values() -%}
          {#- A query that reads the table itself (int_best_matches: which runs it lacks) must see it before the
              truncate: then the new rows are set aside with the kept ones. -#}
          {%- set reads_itself = (target_relation | string) in sql -%}
          {% do run_query('create temporary table ' ~ kept_relation ~ ' as select ' ~ columns_csv ~ ' from '
                          ~ target_relation ~ (' union all select ' ~ columns_csv ~ ' from ' ~ temp_relation
                                               if reads_itself else '')) %}
          {% for index in indexes.columns[0].values() %}
              {% do run_query('drop index ' ~ index) %}
          {% endfor %}
          {% do run_query('truncate ' ~ target_relation) %}
          {% set build_sql %}
              insert into {{ target_relation }} ({{ columns_csv }})
              select {{ columns_csv }} from {{ kept_relation }}
              {% if not reads_itself -%}
              union all
              select {{ columns_csv }} from {{ temp_relation }}
              {%- endif %}
          {% endset %}
          {% do to_drop.append(kept_relation.incorporate(type='table')) %}
      {% else %}
          {% set build_sql = get_insert_into_sql(target_relation, temp_relation, dest_columns) %}
      {% endif %}
      {% do to_drop.append(temp_relation) %}
  {% endif %}

  {% call statement("main") %}
      {{ build_sql }}
  {% endcall %}

  {% for definition in index_definitions or [] %}
      {% do run_query(definition) %}
  {% endfor %}

  {% if existing_relation is none or existing_relation.is_view or should_full_refresh() %}
      {% do create_indexes(relation_for_indexes) %}
  {% endif %}

  {% if need_swap %}
      {% do adapter.rename_relation(target_relation, backup_relation) %}
      {% do adapter.rename_relation(intermediate_relation, target_relation) %}
      {% do to_drop.append(backup_relation) %}
  {% endif %}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  -- `COMMIT` happens here
  {% do adapter.commit() %}

  {% for rel in to_drop %}
      {% do adapter.drop_relation(rel) %}
  {% endfor %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}

{# dbt's is_incremental(), also true for incremental_direct models (dbt's checks materialized == 'incremental'
   by name). Defined in the root project, it takes the place of dbt's own. #}
{% macro is_incremental() %}
    {% if not execute %}
        {{ return(False) }}
    {% else %}
        {% set relation = adapter.get_relation(this.database, this.schema, this.table) %}
        {{ return(relation is not none
                  and relation.type == 'table'
                  and model.config.materialized in ('incremental', 'incremental_direct')
                  and not should_full_refresh()) }}
    {% endif %}
{% endmacro %}

{# True when the model's config names a `new_rows_estimate` macro and the rows it expects are at least as
   many as the table held at its last ANALYZE (every build ends with one, macros/analyze_model.sql). #}
{% macro rewrite_is_cheaper(relation) %}
    {%- set estimate = config.get('new_rows_estimate') -%}
    {%- if not estimate -%}{{ return(false) }}{%- endif -%}
    {%- set result = run_query('select (' ~ context[estimate]() ~ ') >= greatest(c.reltuples, 0) '
                               ~ "from pg_class as c where c.oid = '" ~ relation ~ "'::regclass") -%}
    {{ return(result.columns[0].values()[0]) }}
{% endmacro %}
