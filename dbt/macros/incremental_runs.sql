{# Incremental marts, keyed by run (issue 11).

   Each per-run table carries `run_loaded_at` (load.runs.loaded_at of the run its rows come from). A build
   works out by itself what changed since the last one, so it needs no var naming "the run being loaded" and
   gives the same rows whether dbt runs the whole project, one model (`dbt build --select <model>`, as
   Cosmos does) or a `--full-refresh`:
   - rows of runs that are gone from load.runs (retention, deletes) or were reloaded since (their
     loaded_at differs) are deleted (pre-hook, `delete_changed_runs`);
   - runs of load.runs without rows in the table are computed and appended (`runs_to_add`).
   The dbt vars a model's values depend on (cuts) are fingerprinted into the table's comment; when they differ
   from the build's vars, the table is recomputed whole, so rows never mix two sets of cuts.
   Finding the runs a table holds uses its run_id index (a loose index scan), not a scan of the table. #}

{# md5 of the named vars' values: what a table's rows were computed with. #}
{% macro vars_fingerprint(names) -%}
    {%- set parts = [] -%}
    {%- for name in names -%}{%- do parts.append(name ~ '=' ~ var(name)) -%}{%- endfor -%}
    {{- return(local_md5(parts | join(';'))) -}}
{%- endmacro %}

{# True when `this` exists but was computed with other values of `var_names` (or by an older build). #}
{% macro vars_changed(var_names) -%}
    {%- if not execute -%}{{ return(false) }}{%- endif -%}
    {%- set relation = this.include(database=false) -%}
    {%- set result = run_query("select obj_description(to_regclass('" ~ relation ~ "'), 'pg_class')") -%}
    {%- set stored = result.columns[0].values()[0] -%}
    {{- return(stored != 'radiolake vars ' ~ vars_fingerprint(var_names)) -}}
{%- endmacro %}

{# Post-hook: record the vars' fingerprint (hex digits only: nothing of a var's text reaches the SQL). #}
{% macro record_vars(var_names) -%}
    comment on table {{ this }} is 'radiolake vars {{ vars_fingerprint(var_names) }}'
{%- endmacro %}

{# True when the model is to be computed for every run (first build, --full-refresh, or cuts changed). #}
{% macro rebuild_all(var_names) -%}
    {{- return(not is_incremental() or vars_changed(var_names)) -}}
{%- endmacro %}

{# The distinct run_ids of `relation`, by a loose scan of its run_id index (one probe per run). #}
{% macro run_ids_in(relation) -%}
    with recursive ids (run_id) as (
        (select run_id from {{ relation }} order by run_id limit 1)
        union all
        select (select t.run_id from {{ relation }} as t where t.run_id > ids.run_id order by t.run_id limit 1)
        from ids where ids.run_id is not null
    )
    select run_id from ids where run_id is not null
{%- endmacro %}

{# Pre-hook of a per-run table: delete the rows of runs gone or reloaded since (all rows if cuts changed). #}
{% macro delete_changed_runs(var_names=[]) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif vars_changed(var_names) -%}
        delete from {{ this }}
    {%- else -%}
        delete from {{ this }} where run_id = any(array(
            select i.run_id
            from ({{ run_ids_in(this) }}) as i
            left join {{ runs_relation() }} as r on r.run_id = i.run_id
            where r.loaded_at is distinct from (
                select t.run_loaded_at from {{ this }} as t where t.run_id = i.run_id limit 1)))
    {%- endif -%}
{%- endmacro %}

{# The run table (one row per run of load.runs, with loaded_at) a model's bookkeeping reads, from the layer
   below the model's own (marts read intermediate models only, intermediate models read staging ones;
   tests/unit/warehouse/test_dbt_layers.py checks it in the manifest). #}
{% macro runs_relation() -%}
    {%- if model.fqn[1] == 'marts' -%}
        {{- return(ref('int_runs')) -}}
    {%- else -%}
        {{- return(ref('stg_runs')) -}}
    {%- endif -%}
{%- endmacro %}

{# SQL array of the runs to compute: every run on a full build, else the runs without rows in `this`.
   Used as `run_id = any({{ runs_to_add() }})`: an array from an init plan lets Postgres prune the load.*
   partitions of every other run at execution time. #}
{% macro runs_to_add() -%}
    {%- if is_incremental() -%}
        array(select r.run_id from {{ runs_relation() }} as r
              where not exists (select 1 from {{ this }} as t where t.run_id = r.run_id))
    {%- else -%}
        array(select r.run_id from {{ runs_relation() }} as r)
    {%- endif -%}
{%- endmacro %}

{# The vars each incremental model's values depend on (its fingerprint). #}
{% macro distance_vars() -%}{{ return(['parallax_snr_min']) }}{%- endmacro %}
{% macro grade_vars() -%}
    {{- return(['parallax_snr_min', 'grade_a_min_probability', 'grade_a_min_parallax_snr',
                'grade_b_min_probability']) -}}
{%- endmacro %}
{% macro star_vars() -%}
    {{- return(grade_vars() + ['star_min_circular_polarisation', 'stokes_v_min_snr', 'flux_systematic_fraction',
                               'variable_min_flux_ratio', 'variable_min_eta',
                               'star_detection_min_probability'] + identity_vars()) -}}
{%- endmacro %}
{# The vars that decide which catalogue stars are one physical star (models/intermediate/int_star_identities). #}
{% macro identity_vars() -%}
    {{- return(['star_identity_epoch_jyear', 'star_identity_max_separation_arcsec',
                'star_identity_max_mag_difference', 'star_identity_max_parallax_sigma', 'gaia_id_prefix',
                'hipparcos_id_prefix']) -}}
{%- endmacro %}

{# Post-hook of a per-run table with is_latest_run: set the flag from stg_runs where it changed. #}
{% macro refresh_latest_run_flags() -%}
    update {{ this }} as t set is_latest_run = r.is_latest_run
    from {{ runs_relation() }} as r
    where r.run_id = t.run_id and t.is_latest_run is distinct from r.is_latest_run
{%- endmacro %}

{# Star-level marts merge rather than append: a star's rows depend on every run that detected it.
   Pre-hook of radio_star_detections and radio_stars: collect the stars whose rows may change
   (`changed_stars_sql`, below) into a temporary table, and delete their rows; the model then recomputes
   exactly those stars (reading `temp_table`, through rows_of_changed_stars below), or every star when they
   are at least as many as the table held. Everything on a first build, or when the cuts changed.
   A star may be listed more than once (UNION ALL: every reader is a semi-join or the DELETE's join, and
   removing duplicates from a run's worth of stars cost more than the rest of the hook). The DELETE joins
   rather than semi-joins, so Postgres may hash whichever side is smaller: a table small next to a run's
   run's changed stars is hashed and probed instead of hashing the stars (docs/performance-log.md). #}
{% macro prepare_star_merge(var_names, temp_table, changed_stars_sql) -%}
    {%- if not is_incremental() -%}
        select 1
    {%- elif vars_changed(var_names) -%}
        delete from {{ this }}
    {%- else -%}
        drop table if exists {{ temp_table }};
        create temporary table {{ temp_table }} as {{ changed_stars_sql }};
        analyze {{ temp_table }};
        drop table if exists {{ temp_table }}_every;
        create temporary table {{ temp_table }}_every as
            select (select count(*) from {{ temp_table }}) >= greatest(c.reltuples, 0) as every_star
            from pg_class as c where c.oid = '{{ this }}'::regclass;
        delete from {{ this }} as t using {{ temp_table }} as c
        where t.star_id = c.star_id and not (select every_star from {{ temp_table }}_every);
        do $$ begin  -- every star: emptied at once (no dead rows; the build rewrites the table anyway)
            if (select every_star from {{ temp_table }}_every) then truncate {{ this }}; end if;
        end $$
    {%- endif -%}
{%- endmacro %}

{# The rows of `relation` a star-level model recomputes after prepare_star_merge (temp_table: its changed
   stars): those of the changed stars; or every row, when the changes are at least as many stars as the
   table held (`<temp_table>_every`; then the pre-hook emptied the table, as a full build would). Recomputing
   every star is then cheaper than picking them: the model reads every row anyway, and picking a run's
   worth of stars hashes them all (docs/performance-log.md). Two branches, each behind a one-time filter,
   rather than an OR: only the taken branch runs, and the other keeps its hash semi-join. #}
{% macro rows_of_changed_stars(relation, temp_table) -%}
    select * from {{ relation }} where (select every_star from {{ temp_table }}_every)
    union all
    select * from {{ relation }}
    where not (select every_star from {{ temp_table }}_every)
      and star_id in (select star_id from {{ temp_table }})
{%- endmacro %}

{# radio_star_detections: stars of runs that are gone, reloaded or no longer the newest of their
   catalogues, and stars of newest runs not yet in the table; the model recomputes them over every newest
   run, so the newest-run rules hold as in a full build. #}
{% macro detections_changed_stars() -%}
    select star_id from {{ this }} where run_id = any(array(
        select i.run_id
        from ({{ run_ids_in(this) }}) as i
        left join {{ ref('stg_runs') }} as r on r.run_id = i.run_id
        where not coalesce(r.is_latest_run, false) or r.loaded_at is distinct from (
            select t.run_loaded_at from {{ this }} as t where t.run_id = i.run_id limit 1)
            -- a newer run of its catalogues loaded since: it may supersede some of its rows (supersede.sql)
            or {{ has_newer_run_loaded_since('r', '(select max(t.built_at) from ' ~ this ~ ' as t)') }}))
    union all
    select star_id from {{ ref('int_best_matches') }} where run_id = any(array(
        select r.run_id from {{ ref('stg_runs') }} as r
        where r.is_latest_run and not exists (
            select 1 from {{ this }} as t where t.run_id = r.run_id and t.run_loaded_at = r.loaded_at)))
{%- endmacro %}

{# radio_stars: the catalogue stars to recompute (their detections are read, under their physical star):
   those whose detections were rebuilt since this table's last build (their built_at is newer than any it
   has seen) or are gone, and every member of a group of int_star_identities, now or at the last build
   (radio_stars.catalogue_star_ids): a group forms, grows or splits as its members' runs come and go, and
   groups are few. prepare_star_merge deletes the table's rows keyed by any of these ids. #}
{% macro restated_stars() -%}
    select star_id from {{ ref('int_star_detections') }}
    where built_at > coalesce((select max(detections_built_at) from {{ this }}), '-infinity')
    union all
    select s.star_id from {{ this }} as s
    where not exists (select 1 from {{ ref('int_star_detections') }} as d where d.star_id = s.star_id)
    union all
    select star_id from {{ ref('int_star_identities') }}
    union all
    select unnest(string_to_array(s.catalogue_star_ids, ',')) from {{ this }} as s where s.n_catalogue_stars > 1
{%- endmacro %}

{# The rows a build is about to add (config new_rows_estimate, macros/incremental_direct.sql): a build that
   adds at least as many as the table holds rewrites it rather than inserting. #}
{% macro best_matches_new_rows() -%}
    select coalesce(sum(n_best), 0) from {{ runs_relation() }} where run_id = any({{ runs_to_add() }})
{%- endmacro %}
{% macro detections_new_rows() -%}
    {{- changed_stars_count(grade_vars(), 'radiolake_changed_stars') -}}
{%- endmacro %}
{% macro radio_stars_new_rows() -%}
    {{- changed_stars_count(star_vars(), 'radiolake_restated_stars') -}}
{%- endmacro %}
{# The stars prepare_star_merge collected (at least one row each); every row when the model is recomputed
   whole (then prepare_star_merge collected nothing and emptied the table). #}
{% macro changed_stars_count(var_names, temp_table) -%}
    {%- if rebuild_all(var_names) -%}
        select 'Infinity'::float8
    {%- else -%}
        select count(*) from {{ temp_table }}
    {%- endif -%}
{%- endmacro %}
