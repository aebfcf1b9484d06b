{# One row per physical star (issue 21): catalogue stars that are one star (models/intermediate/
   int_star_identities.sql) are counted as one, under the Gaia id of the group (its physical_star_id). #}

{# A catalogue id prefix from a dbt var (gaia_id_prefix, hipparcos_id_prefix): letters, digits and
   underscores only, checked before it reaches the SQL. #}
{% macro catalogue_prefix_var(name) -%}
    {%- set value = var(name) | string -%}
    {%- if not modules.re.fullmatch('[A-Za-z0-9_]{1,64}', value) -%}
        {{ exceptions.raise_compiler_error("dbt var " ~ name ~ " must be a catalogue id prefix ([A-Za-z0-9_]), not " ~ value) }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{# The catalogue number of `id` (e.g. 'hip2:87937' -> 87937) when it is of the catalogue of the id prefix var
   `prefix_var` and numeric, else null. #}
{% macro catalogue_number(id, prefix_var) -%}
    (case when {{ id }} ~ '^{{ catalogue_prefix_var(prefix_var) }}:[0-9]{1,18}$'
          then split_part({{ id }}, ':', 2)::bigint end)
{%- endmacro %}

{# SQL condition: the detection `d` (a row of int_star_detections) of the group member `i` (a row of
   int_star_identities) counts for the physical star: no member ranked before it detected the same radio
   source. (A radio source matched to a Hipparcos star in one run and to its Gaia star in another is one
   detection of the star, kept as the Gaia star's.) An index probe per grouped detection (few). #}
{% macro counts_for_physical_star(d, i) -%}
    not exists (
        select 1
        from {{ ref('int_star_detections') }} as other
        inner join {{ ref('int_star_identities') }} as other_member on other_member.star_id = other.star_id
        where other_member.physical_star_id = {{ i }}.physical_star_id
          and other_member.member_rank < {{ i }}.member_rank
          and other.radio_id = {{ d }}.radio_id
    )
{%- endmacro %}
