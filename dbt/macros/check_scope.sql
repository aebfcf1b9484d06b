{# What the data tests check. By default every row of every run (var check_runs empty). With
   `--vars '{"check_runs": ["<run>", ...]}'` (radiolake/run_params.py CHECK_RUNS_VAR; the warehouse steps
   pass the runs they loaded), tests check the rows of those runs only: rows of tables with a run_id, and
   the stars those runs detected in the star-level marts. Earlier runs were checked when they were built, so
   a build after a load costs the new run, not the whole history.
   Run ids reach the SQL only after matching [A-Za-z0-9][A-Za-z0-9_.-]{0,127} (no quotes, no spaces); any
   other value stops compilation. #}

{% macro check_runs_sql() -%}
    {#- The runs come as the var or, from radiolake/warehouse/dbt_runner.py, in an env var read only when
        executing: a new --vars value makes dbt parse the whole project again, and an env var read while
        parsing the files that read it. -#}
    {%- set runs = var('check_runs', []) -%}
    {%- if not runs and execute -%}
        {%- set runs = fromjson(env_var('RADIOLAKE_DBT_CHECK_RUNS', '[]')) -%}
    {%- endif -%}
    {%- if runs is string or runs is mapping or runs is not iterable -%}
        {{ exceptions.raise_compiler_error("dbt var check_runs must be a list of run ids") }}
    {%- endif -%}
    {%- set quoted = [] -%}
    {%- for run in runs -%}
        {%- if run is not string or not modules.re.fullmatch('[A-Za-z0-9][A-Za-z0-9_.-]{0,127}', run) -%}
            {{ exceptions.raise_compiler_error("dbt var check_runs: not a run id: " ~ ((run | string)[:60])) }}
        {%- endif -%}
        {%- do quoted.append("'" ~ run ~ "'") -%}
    {%- endfor -%}
    {{- return(quoted | join(', ')) -}}
{%- endmacro %}

{# A boolean SQL condition limiting `relation`'s rows (columns qualified by `alias`, if given) to the
   checked runs ('true' when every run is). #}
{% macro check_scope(relation, alias='') -%}
    {%- set prefix = (alias ~ '.') if alias else '' -%}
    {%- set runs = check_runs_sql() -%}
    {%- if not runs or not execute -%}
        {{- return('true') -}}
    {%- endif -%}
    {%- set columns = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if 'run_id' in columns -%}
        {{- return(prefix ~ 'run_id in (' ~ runs ~ ')') -}}
    {%- elif 'star_id' in columns -%}
        {#- not ref(): a test's dependencies are fixed at parse time -#}
        {%- set detections = adapter.get_relation(database=target.database, schema='marts',
                                                  identifier='radio_star_detections') -%}
        {#- a first build tests star-level models before the detections exist: every row is new then -#}
        {%- if detections is none -%}
            {{- return('true') -}}
        {%- endif -%}
        {#- star-level rows are keyed by physical star (radio_stars.star_id = physical_star_id) -#}
        {{- return(prefix ~ 'star_id in (select physical_star_id from ' ~ detections ~ ' where run_id in (' ~ runs ~ '))') -}}
    {%- endif -%}
    {{- return('true') -}}
{%- endmacro %}

{# dbt's hook for the relation a generic test reads: its `where` config, and the checked runs. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scope = check_scope(relation) -%}
    {%- if where or scope != 'true' -%}
        {%- do return('(select * from ' ~ relation ~ ' where (' ~ (where or 'true') ~ ') and ' ~ scope
                      ~ ') dbt_subquery') -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{# dbt's relationships test, with the parent side limited to the checked runs too when the child side is
   limited by run_id and the parent has a run_id: every key here carries its run (run_id|id strings, or
   run_id itself; run ids cannot contain '|'), so a child row of run R can only match a parent row of run
   R. Without it a build hashed every run's parent keys (the stars of every run kept) to check one run's
   children, so its cost grew with the history. Limiting the parent can only add failures, never hide an
   orphan. Defined here, it takes the place of dbt's own default__test_relationships. #}
{% macro default__test_relationships(model, column_name, to, field) %}
{#- The parent's scope as check_scope gives it, used only when it is by run_id and the child (from
    get_where_subquery) is limited by the same condition. -#}
{%- set scope = check_scope(to) -%}
{%- set parent = to -%}
{%- if scope.startswith('run_id in (') and (' and ' ~ scope ~ ')') in (model | string) -%}
    {%- set parent = '(select * from ' ~ to ~ ' where ' ~ scope ~ ') as parent_rows' -%}
{%- endif %}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ parent }}
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null
{% endmacro %}
