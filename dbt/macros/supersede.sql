{# Each run's footprint as HEALPix ranges [lo, hi) at order 29 (run.json `footprint`, set at load from the
   coverage of the radio catalogue version the run read: radiolake/warehouse/footprints.py); a run without
   one covers the whole sky (12 * 4^29), the rule from before footprints. Read by stg_run_footprints and by
   stg_runs itself (staging reads sources only). #}
{% macro run_footprint_ranges() -%}
    select
        r.run_id,
        (f.range ->> 0)::bigint as lo,
        (f.range ->> 1)::bigint as hi
    from {{ source('load', 'runs') }} as r
    cross join lateral jsonb_array_elements(
        case when jsonb_typeof(r.run_json -> 'footprint' -> 'ranges') = 'array'
             then r.run_json -> 'footprint' -> 'ranges'
             else '[[0, 3458764513820540928]]'::jsonb end
    ) as f (range)
{%- endmacro %}

{# Supersede per footprint (issue 22). A detection of run `runs` (a stg_runs row) at the radio source's
   order-29 `healpix` is superseded when a newer run of the same radio x star catalogues covered that pixel
   (stg_run_footprints). The newest run of a combination supersedes nothing of its own (the CASE spares
   its rows the lookup); runs without a footprint cover the whole sky. #}
{% macro superseded_at(runs, healpix) -%}
    case when {{ runs }}.newest_rank = 1 then false else exists (
        select 1 from {{ ref('stg_runs') }} as newer
        inner join {{ ref('stg_run_footprints') }} as f on f.run_id = newer.run_id
        where newer.radio_catalog is not distinct from {{ runs }}.radio_catalog
          and newer.star_catalog is not distinct from {{ runs }}.star_catalog
          and newer.newest_rank < {{ runs }}.newest_rank
          and f.lo <= {{ healpix }} and {{ healpix }} < f.hi) end
{%- endmacro %}

{# Runs (ids of stg_runs `r`) that a newer run of their combination was loaded after `since`: their rows in
   a star-level table may be superseded now, so their stars are recomputed. #}
{% macro has_newer_run_loaded_since(r, since) -%}
    exists (
        select 1 from {{ ref('stg_runs') }} as newer
        where newer.radio_catalog is not distinct from {{ r }}.radio_catalog
          and newer.star_catalog is not distinct from {{ r }}.star_catalog
          and newer.newest_rank < {{ r }}.newest_rank
          and newer.loaded_at > {{ since }})
{%- endmacro %}
