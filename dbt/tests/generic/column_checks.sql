{# A model's column rules in one scan: required columns (not_null), value ranges and accepted values.

   Why one test and not one per column: each dbt test is a query over the model, and a model of a 1 M-pair
   run has 666 k rows or more (staging models and radio_star_candidates are views, recomputed per query).
   128 single-column tests took over half of a build's time; one scan per model checks the same rules.

   Arguments (all optional):
     not_null:        [column, ...]                      the column has a value in every row
     ranges:          {column: {min: x, max: y}, ...}    min <= value <= max, either bound optional
     accepted_values: {column: [value, ...], ...}        the value is one of these
   A null passes `ranges` and `accepted_values` (as dbt's accepted_values): list the column under not_null
   where a value is required.

   A failing test returns one row per broken rule, with the rule and the number of rows breaking it, and
   counts those rows (fail_calc): "Got 12 results" means 12 bad rows. `dbt test --select <model>
   --store-failures` keeps the rules' rows in a table. #}
{% test column_checks(model, not_null=[], ranges={}, accepted_values={}) %}
{{ config(fail_calc='coalesce(sum(n_rows), 0)') }}
{%- set rules = [] -%}
{%- for column in not_null -%}
    {%- do rules.append((column ~ ' is not null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column, bounds in ranges.items() -%}
    {%- set unknown = bounds.keys() | reject('in', ['min', 'max']) | list -%}
    {%- if unknown or not bounds -%}
        {{ exceptions.raise_compiler_error("column_checks ranges." ~ column ~ ": give min and/or max, not " ~ unknown) }}
    {%- endif -%}
    {%- set broken = [] -%}
    {%- if bounds.get('min') is not none -%}{%- do broken.append(column ~ ' < ' ~ bounds['min']) -%}{%- endif -%}
    {%- if bounds.get('max') is not none -%}{%- do broken.append(column ~ ' > ' ~ bounds['max']) -%}{%- endif -%}
    {%- do rules.append((column ~ ' in [' ~ bounds.get('min', '') ~ ', ' ~ bounds.get('max', '') ~ ']',
                         broken | join(' or '))) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set literals = [] -%}
    {%- for value in values -%}
        {%- do literals.append("'" ~ (value | string | replace("'", "''")) ~ "'") -%}
    {%- endfor -%}
    {%- do rules.append((column ~ ' in (' ~ (values | join(', ')) ~ ')',
                         column ~ '::text not in (' ~ (literals | join(', ')) ~ ')')) -%}
{%- endfor -%}
{%- if not rules -%}
    {{ exceptions.raise_compiler_error("column_checks: no rule given") }}
{%- endif %}
with broken as (
    select
    {%- for rule, condition in rules %}
        count(*) filter (where {{ condition }}) as rule_{{ loop.index }}{{ ',' if not loop.last }}
    {%- endfor %}
    from {{ model }}
)

select rule, n_rows
from broken
cross join lateral (values
{%- for rule, condition in rules %}
    ('{{ rule | replace("'", "''") }}', rule_{{ loop.index }}){{ ',' if not loop.last }}
{%- endfor %}
) as rules (rule, n_rows)
where n_rows > 0
{% endtest %}
