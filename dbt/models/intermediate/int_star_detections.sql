{{ config(
    materialized='incremental_direct',
    indexes=[{'columns': ['star_id', 'radio_id'], 'unique': True}, {'columns': ['run_id']}],
    pre_hook="{{ prepare_star_merge(grade_vars(), 'radiolake_changed_stars', detections_changed_stars()) }}",
    new_rows_estimate='detections_new_rows',
    analyze_columns=['run_id', 'radio_id', 'star_id', 'built_at'],
    post_hook="{{ record_vars(grade_vars()) }}",
) }}
-- One row per catalogue star x radio detection, over every run and survey loaded: the table under the mart
-- view radio_star_detections (which adds the physical star, int_star_identities), and what radio_stars
-- aggregates. A detection is a radio source whose best (nearest) star is this star: a row of
-- radio_star_candidates, read here from the table under that view (int_best_matches, same grade macro).
-- Only the newest run of each radio survey x stellar catalogue counts (stg_runs.is_latest_run): a newer
-- run supersedes the older one, and a reload or rerun replaces its run's rows in load.* rather than adding
-- to them. Should the same radio source still reach the same star through two runs (two catalogue
-- definitions with one id prefix), the newest run's row wins: detection_key is unique by construction
-- and by the table's unique index.
-- Incremental, merged by star (macros/incremental_runs.sql, prepare_star_merge): a build recomputes
-- only the stars whose detections can have changed since the last one, each over every newest run.
{% set full = rebuild_all(grade_vars()) %}
with current_candidates as (
    select
        c.*,
        {{ candidate_grade('c') }} as grade,
        runs.created_at as run_created_at,
        row_number() over (
            partition by c.star_id, c.radio_id
            order by runs.created_at desc nulls last, runs.loaded_at desc, c.run_id desc
        ) as newest_first
    {%- if full %}
    from {{ ref('int_best_matches') }} as c
    {%- else %}
    from ({{ rows_of_changed_stars(ref('int_best_matches'), 'radiolake_changed_stars') }}) as c
    {%- endif %}
    inner join {{ ref('stg_runs') }} as runs on runs.run_id = c.run_id
    where runs.is_latest_run
      and c.run_id = any(array(select run_id from {{ ref('stg_runs') }} where is_latest_run))
      -- per footprint (issue 22): not where a newer run of the same catalogues covered the radio source
      and not {{ superseded_at('runs', 'c.radio_healpix29') }}
),

detections as (
    select
        c.star_id || '|' || c.radio_id as detection_key,
        c.star_id,
        c.star_catalog,
        c.radio_id,
        c.survey,
        c.run_id,
        c.radio_epoch_jyear as epoch_jyear,
        c.freq_mhz,
        c.radio_ra_deg,
        c.radio_dec_deg,
        c.flux_mjy,
        r.flux_peak_mjy_beam,
        r.flux_int_mjy,
        r.flux_error_mjy,
        r.flux_v_peak_mjy_beam,
        r.flux_v_int_mjy,
        r.flux_v_error_mjy,
        -- |V|/I from the same kind of measurement (peak with peak, integrated with integrated).
        case
            when r.flux_v_peak_mjy_beam is not null and r.flux_peak_mjy_beam > 0
                then abs(r.flux_v_peak_mjy_beam) / r.flux_peak_mjy_beam
            when r.flux_v_int_mjy is not null and r.flux_int_mjy > 0
                then abs(r.flux_v_int_mjy) / r.flux_int_mjy
        end as cp_fraction,
        case
            when r.flux_v_peak_mjy_beam is not null and r.flux_peak_mjy_beam > 0
                then r.flux_peak_mjy_beam
            when r.flux_v_int_mjy is not null and r.flux_int_mjy > 0 then r.flux_int_mjy
        end as cp_stokes_i_mjy,
        coalesce(r.flux_v_peak_mjy_beam, r.flux_v_int_mjy) as cp_stokes_v_mjy,
        c.separation_arcsec,
        c.separation_sigma,
        c.p_chance,
        -- The calibrated posterior of the candidate (null where positional errors are unknown).
        c.association_probability,
        c.grade,
        c.pm_applied,
        c.dt_years,
        c.distance_pc,
        c.radio_luminosity_erg_s_hz,
        c.run_loaded_at
    from current_candidates as c
    inner join {{ ref('stg_radio_sources') }} as r on r.run_id = c.run_id and r.radio_id = c.radio_id
    where c.newest_first = 1
      and r.run_id = any(array(select run_id from {{ ref('stg_runs') }} where is_latest_run))
)

select
    detection_key,
    star_id,
    star_catalog,
    radio_id,
    survey,
    run_id,
    epoch_jyear,
    freq_mhz,
    radio_ra_deg,
    radio_dec_deg,
    flux_mjy,
    flux_peak_mjy_beam,
    flux_int_mjy,
    flux_error_mjy,
    flux_v_peak_mjy_beam,
    flux_v_int_mjy,
    flux_v_error_mjy,
    cp_fraction as circular_polarisation_fraction,
    -- sigma(|V|/I) = sqrt(sigma_V^2 + (f sigma_I)^2) / I; sigma_I is the flux error where known.
    case when cp_fraction is not null and flux_v_error_mjy is not null
         then sqrt(power(flux_v_error_mjy, 2) + power(cp_fraction * coalesce(flux_error_mjy, 0), 2))
              / cp_stokes_i_mjy end as circular_polarisation_fraction_error,
    case when flux_v_error_mjy > 0 then abs(cp_stokes_v_mjy) / flux_v_error_mjy end as stokes_v_snr,
    separation_arcsec,
    separation_sigma,
    p_chance,
    association_probability,
    grade,
    pm_applied,
    dt_years,
    distance_pc,
    radio_luminosity_erg_s_hz,
    run_loaded_at,
    -- When this row was (re)computed: radio_stars recomputes the stars whose detections are newer than it.
    now() as built_at
from detections
