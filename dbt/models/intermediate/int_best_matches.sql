{{ config(
    materialized='incremental_direct',
    indexes=[{'columns': ['run_id', 'radio_id'], 'unique': True}, {'columns': ['star_id']}],
    pre_hook="{{ delete_changed_runs(distance_vars()) }}",
    new_rows_estimate='best_matches_new_rows',
    analyze_columns=['run_id', 'radio_id', 'star_id', 'region_key'],
    post_hook="{{ record_vars(distance_vars()) }}",
) }}
-- The best (nearest) star of each matched radio source, with the radio and stellar columns the marts
-- need and the quantities derived from them: parallax S/N, distance, absolute G, total proper motion,
-- radio luminosity, and the sky region (at the run's offset-sky order) the radio source falls in.
-- Incremental by run (macros/incremental_runs.sql): a build computes only the runs loaded (or reloaded)
-- since the last one, each load table filtered to those runs so Postgres reads only their partitions,
-- joined on (run_id, id) columns rather than on concatenated keys.
{% set runs = runs_to_add() %}
with runs as (
    select run_id, loaded_at from {{ ref('stg_runs') }} where run_id = any({{ runs }})
),

run_region_order as (
    select run_id, min(region_order) as region_order
    from {{ ref('stg_offset_stats') }}
    where run_id = any({{ runs }})
    group by run_id
),

best as (
    select * from {{ ref('stg_best') }} where run_id = any({{ runs }})
),

radio as (
    select * from {{ ref('stg_radio_sources') }} where run_id = any({{ runs }})
),

stars as (
    select * from {{ ref('stg_stars') }} where run_id = any({{ runs }})
),

joined as (
    select
        b.run_id,
        b.radio_key,
        b.star_key,
        b.radio_id,
        b.star_id,
        r.survey,
        s.star_catalog,
        r.ra_deg as radio_ra_deg,
        r.dec_deg as radio_dec_deg,
        r.epoch_jyear as radio_epoch_jyear,
        r.healpix29 as radio_healpix29,
        b.star_ra_at_epoch_deg,
        b.star_dec_at_epoch_deg,
        b.separation_arcsec,
        b.separation_sigma,
        b.dt_years,
        b.pm_applied,
        b.star_density_deg2,
        b.p_chance,
        b.combined_error_arcsec,
        b.likelihood_ratio,
        b.association_probability,
        b.population,
        s.parallax_mas,
        s.parallax_error_mas,
        case when s.parallax_error_mas > 0 then s.parallax_mas / s.parallax_error_mas end as parallax_snr,
        {{ distance_pc('s.parallax_mas', 's.parallax_error_mas') }} as distance_pc,
        s.phot_g_mag,
        s.bp_rp_mag,
        s.pmra_mas_yr,
        s.pmdec_mas_yr,
        sqrt(power(s.pmra_mas_yr, 2) + power(s.pmdec_mas_yr, 2)) as pm_total_mas_yr,
        coalesce(r.flux_int_mjy, r.flux_peak_mjy_beam) as flux_mjy,
        r.freq_mhz,
        o.region_order,
        runs.loaded_at as run_loaded_at
    from best as b
    inner join runs on runs.run_id = b.run_id
    inner join radio as r on r.run_id = b.run_id and r.radio_id = b.radio_id
    inner join stars as s on s.run_id = b.run_id and s.star_id = b.star_id
    left join run_region_order as o on o.run_id = b.run_id
)

select
    *,
    -- M_G = G + 5 log10(parallax / 100 mas), only where the distance is trusted.
    case when distance_pc is not null then phot_g_mag + 5.0 * log(parallax_mas / 100.0) end as abs_g_mag,
    case when distance_pc is not null and flux_mjy > 0
         then {{ radio_luminosity_erg_s_hz('distance_pc', 'flux_mjy') }} end as radio_luminosity_erg_s_hz,
    {{ coarse_pixel('radio_healpix29', 'region_order') }} as region_pixel,
    run_id || '|' || region_order || '|' || {{ coarse_pixel('radio_healpix29', 'region_order') }} as region_key
from joined
