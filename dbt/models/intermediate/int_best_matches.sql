-- The best (nearest) star of each matched radio source, with the radio and stellar columns the marts
-- need and the quantities derived from them: parallax S/N, distance, absolute G, total proper motion,
-- radio luminosity, and the sky region (at the run's offset-sky order) the radio source falls in.
with run_region_order as (
    select run_id, min(region_order) as region_order
    from {{ ref('stg_offset_stats') }}
    group by run_id
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
        o.region_order
    from {{ ref('stg_best') }} as b
    inner join {{ ref('stg_radio_sources') }} as r on r.radio_key = b.radio_key
    inner join {{ ref('stg_stars') }} as s on s.star_key = b.star_key
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
