{{ config(materialized='view') }}
-- One row per catalogue star x radio detection over every run and survey loaded (the table
-- int_star_detections, incremental), with the physical star each belongs to (int_star_identities):
-- physical_star_id is radio_stars.star_id, and counts_for_physical_star is false for a radio source that
-- the physical star already has through another of its catalogue stars (it counts once there).
-- A view: the analyst reads it with its owner's rights; the intermediate schema stays closed.
select
    d.detection_key,
    d.star_id,
    coalesce(i.physical_star_id, d.star_id) as physical_star_id,
    i.star_id is null or {{ counts_for_physical_star('d', 'i') }} as counts_for_physical_star,
    d.star_catalog,
    d.radio_id,
    d.survey,
    d.run_id,
    d.epoch_jyear,
    d.freq_mhz,
    d.radio_ra_deg,
    d.radio_dec_deg,
    d.flux_mjy,
    d.flux_peak_mjy_beam,
    d.flux_int_mjy,
    d.flux_error_mjy,
    d.flux_v_peak_mjy_beam,
    d.flux_v_int_mjy,
    d.flux_v_error_mjy,
    d.circular_polarisation_fraction,
    d.circular_polarisation_fraction_error,
    d.stokes_v_snr,
    d.separation_arcsec,
    d.separation_sigma,
    d.p_chance,
    d.association_probability,
    d.grade,
    d.pm_applied,
    d.dt_years,
    d.distance_pc,
    d.radio_luminosity_erg_s_hz,
    d.run_loaded_at,
    d.built_at
from {{ ref('int_star_detections') }} as d
left join {{ ref('int_star_identities') }} as i on i.star_id = d.star_id
