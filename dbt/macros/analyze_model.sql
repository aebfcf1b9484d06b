{# Post-hook of every model (dbt_project.yml): a table or incremental model is ANALYZEd once written.

   Why: the tests and the models downstream run seconds later, before autovacuum's autoanalyze has seen the
   new rows. Planned on a table without statistics, the `relationships` test of radio_star_detections ->
   radio_stars (a 1 M-pair run) ran as a nested-loop anti-join for many minutes; with statistics it is a
   hash anti-join (docs/performance-log.md). ANALYZE samples 30 k rows.
   A model may name the columns its readers join and filter on (config `analyze_columns`): the row count
   and those columns' statistics are what the plans need, and the big marts have some fifty columns. #}
{% macro analyze_model() -%}
    {%- if config.get('materialized') in ('table', 'incremental', 'incremental_direct') -%}
        {%- set columns = config.get('analyze_columns') or [] -%}
        analyze {{ this }}{% if columns %} ({{ columns | map('replace', '"', '') | join(', ') }}){% endif %}
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
