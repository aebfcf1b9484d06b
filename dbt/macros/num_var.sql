{# A dbt var that must be a number (a candidate cut), rendered as a numeric SQL literal.

   Run parameters reach dbt through --vars; a string there would be pasted into the SQL as is. radiolake
   checks the values in Python first (radiolake/run_params.py); this refuses anything else at compile time
   (text, booleans, NaN, infinities), so no caller can turn a cut into SQL. #}
{% macro num_var(name) -%}
    {%- set value = var(name) -%}
    {%- if value is boolean or value is not number -%}
        {{ exceptions.raise_compiler_error("dbt var " ~ name ~ " must be a number, got " ~ ((value | string)[:60])) }}
    {%- endif -%}
    {%- if value != value or value > 1e300 or value < -1e300 -%}
        {{ exceptions.raise_compiler_error("dbt var " ~ name ~ " must be a finite number, got " ~ value) }}
    {%- endif -%}
    cast({{ value }} as double precision)
{%- endmacro %}
