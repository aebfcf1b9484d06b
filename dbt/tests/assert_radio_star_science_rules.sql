-- Rows of marts.radio_stars that break the rules a paper quotes them by (marts.yml, docs/science-marts.md),
-- recomputed here from radio_star_detections independently of the model's SQL (band edges spelled out
-- here, not taken from macros/radio_bands.sql):
-- - n_secure_detections counts exactly the detections with association_probability >= the stated
--   secure_detection_min_probability, which is the var star_detection_min_probability;
-- - each band's luminosity is the largest L_nu of that band's detections (none from another band);
-- - the |V|/I quoted, its error and its S/N belong to one detection, V detected at >= the stated
--   circular_polarisation_min_snr (var stokes_v_min_snr), and S/N = |V| / sigma_V of that detection.
{%- set scope = check_scope(ref('radio_stars')) %}
{%- set detected -%}
    circular_polarisation_fraction is not null
    and (stokes_v_snr is null or stokes_v_snr >= {{ num_var('stokes_v_min_snr') }})
{%- endset %}
-- Each physical star's detections (a radio source seen through two catalogue stars of one star counts once).
with detections as (
    select * from (
        select d.*, d.physical_star_id as star_key
        from {{ ref('radio_star_detections') }} as d
        where d.counts_for_physical_star
    ) as d
    where {{ scope | replace('star_id in', 'star_key in') }}
),

recount as (
    select
        star_key as star_id,
        count(*) filter (where association_probability >= {{ num_var('star_detection_min_probability') }})
            as n_secure,
        max(radio_luminosity_erg_s_hz) filter (where freq_mhz < 300) as l_lt300,
        max(radio_luminosity_erg_s_hz) filter (where freq_mhz >= 300 and freq_mhz < 1000) as l_300_1000,
        max(radio_luminosity_erg_s_hz) filter (where freq_mhz >= 1000 and freq_mhz < 2000) as l_1_2,
        max(radio_luminosity_erg_s_hz) filter (where freq_mhz >= 2000 and freq_mhz < 4000) as l_2_4,
        max(radio_luminosity_erg_s_hz) filter (where freq_mhz >= 4000) as l_ge4,
        max(circular_polarisation_fraction) filter (where {{ detected }}) as cp_max
    from detections
    group by star_key
),

-- The detection whose |V|/I, error and S/N the star quotes must exist with those three values.
cp_source as (
    select s.star_id, bool_or(
        d.circular_polarisation_fraction = s.max_circular_polarisation_fraction
        and d.circular_polarisation_fraction_error is not distinct from s.max_circular_polarisation_fraction_error
        and d.stokes_v_snr is not distinct from s.max_circular_polarisation_snr
        and (d.stokes_v_snr is null or d.stokes_v_snr >= s.circular_polarisation_min_snr)
        -- S/N is |V| / sigma_V of the detection (peak V with its error, integrated where there is no peak)
        and (d.stokes_v_snr is null or abs(d.stokes_v_snr * d.flux_v_error_mjy
             - abs(coalesce(d.flux_v_peak_mjy_beam, d.flux_v_int_mjy))) <= 1e-9 * (1 + d.flux_v_error_mjy))
    ) as found
    from {{ ref('radio_stars') }} as s
    inner join detections as d on d.star_key = s.star_id
    where s.max_circular_polarisation_fraction is not null
    group by s.star_id
),

checked as (
    select
        s.star_id,
        s.n_secure_detections,
        r.n_secure,
        s.secure_detection_min_probability <> {{ num_var('star_detection_min_probability') }} as wrong_threshold,
        s.circular_polarisation_min_snr <> {{ num_var('stokes_v_min_snr') }} as wrong_v_threshold,
        not (
            {%- for col, ref_col in [('radio_luminosity_lt300mhz_erg_s_hz', 'l_lt300'),
                                     ('radio_luminosity_300_1000mhz_erg_s_hz', 'l_300_1000'),
                                     ('radio_luminosity_1_2ghz_erg_s_hz', 'l_1_2'),
                                     ('radio_luminosity_2_4ghz_erg_s_hz', 'l_2_4'),
                                     ('radio_luminosity_ge4ghz_erg_s_hz', 'l_ge4')] %}
            coalesce((s.{{ col }} is null and r.{{ ref_col }} is null)
                     or abs(s.{{ col }} - r.{{ ref_col }}) <= 1e-9 * abs(r.{{ ref_col }}), false)
            {%- if not loop.last %} and{% endif %}
            {%- endfor %}
        ) as wrong_luminosity,
        s.max_circular_polarisation_fraction is distinct from r.cp_max
            or (s.max_circular_polarisation_fraction is not null and not coalesce(c.found, false))
            as wrong_polarisation
    from recount as r
    inner join {{ ref('radio_stars') }} as s on s.star_id = r.star_id
    left join cp_source as c on c.star_id = s.star_id
)

select *
from checked
where n_secure_detections is distinct from n_secure
   or wrong_threshold
   or wrong_v_threshold
   or wrong_luminosity
   or wrong_polarisation
