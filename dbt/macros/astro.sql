{# Astronomy helpers shared by models. Constants: 1 pc = 3.0856775814913673e18 cm (IAU 2015);
   1 mJy = 1e-26 erg s^-1 cm^-2 Hz^-1. #}

{% macro healpix_area_deg2(order) -%}
    (41252.96124941928 / (12.0 * power(4.0, {{ order }})))
{%- endmacro %}

{# Nested HEALPix index at `order` from the order-29 index stored in the load tables. #}
{% macro coarse_pixel(healpix29, order) -%}
    ({{ healpix29 }} >> (2 * (29 - {{ order }})))
{%- endmacro %}

{# Distance (pc) from parallax (mas) only when the parallax is positive and measured to S/N >= cut. #}
{% macro distance_pc(parallax, parallax_error) -%}
    case when {{ parallax }} > 0 and {{ parallax_error }} > 0
              and {{ parallax }} / {{ parallax_error }} >= {{ num_var('parallax_snr_min') }}
         then 1000.0 / {{ parallax }} end
{%- endmacro %}

{# Spectral luminosity L_nu = 4 pi d^2 S_nu, erg/s/Hz, from d (pc) and S (mJy); null when either is. #}
{% macro radio_luminosity_erg_s_hz(distance_pc, flux_mjy) -%}
    (4.0 * pi() * power({{ distance_pc }} * 3.0856775814913673e18, 2) * {{ flux_mjy }} * 1e-26)
{%- endmacro %}
