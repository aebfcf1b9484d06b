{# The frequency bands in which marts.radio_stars quotes a radio luminosity (one declaration: the model's
   columns and its docs in marts.yml follow this list; tests/assert_radio_star_science_rules.sql spells the
   edges out again, independently, to check them).
   A luminosity L_nu is only comparable at one frequency (radio-star spectra are steep or inverted), so
   the mart keeps the brightest detection per band rather than one maximum over every frequency.
   Bands [min_mhz, max_mhz): below 300 MHz (LoTSS, GLEAM), 300-1000 MHz (RACS-low 887.5 MHz), 1-2 GHz
   (NVSS/FIRST 1.4 GHz, RACS-mid 1.37 GHz, MeerKAT L band), 2-4 GHz (VLASS 3 GHz), 4 GHz and above. #}
{% macro radio_bands() -%}
    {{- return([
        {'name': 'lt300mhz', 'min_mhz': none, 'max_mhz': 300},
        {'name': '300_1000mhz', 'min_mhz': 300, 'max_mhz': 1000},
        {'name': '1_2ghz', 'min_mhz': 1000, 'max_mhz': 2000},
        {'name': '2_4ghz', 'min_mhz': 2000, 'max_mhz': 4000},
        {'name': 'ge4ghz', 'min_mhz': 4000, 'max_mhz': none},
    ]) -}}
{%- endmacro %}

{# SQL condition: `freq` (MHz) lies in `band` (one of radio_bands()). #}
{% macro in_radio_band(freq, band) -%}
    ({{ freq }} is not null
     {%- if band.min_mhz is not none %} and {{ freq }} >= {{ band.min_mhz }}{% endif %}
     {%- if band.max_mhz is not none %} and {{ freq }} < {{ band.max_mhz }}{% endif %})
{%- endmacro %}

{# Column name of a band's luminosity in marts.radio_stars. #}
{% macro band_luminosity_column(band) -%}
    radio_luminosity_{{ band.name }}_erg_s_hz
{%- endmacro %}
