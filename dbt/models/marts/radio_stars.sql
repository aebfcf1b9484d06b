{{ config(
    materialized='incremental_direct',
    indexes=[{'columns': ['star_id'], 'unique': True}, {'columns': ['star_grade']}],
    pre_hook="{{ prepare_star_merge(star_vars(), 'radiolake_restated_stars', restated_stars()) }}",
    new_rows_estimate='radio_stars_new_rows',
    analyze_columns=['star_id', 'star_grade', 'detections_built_at'],
    post_hook="{{ record_vars(star_vars()) }}",
) }}
-- One row per physical star detected in radio, over every run and survey loaded (int_star_detections, the
-- table under radio_star_detections; catalogue stars that are one star, e.g. a Hipparcos star and its Gaia
-- star, are one row: int_star_identities, keyed by the Gaia id, with both ids kept): how often,
-- where in frequency and time, how bright and how variable, how sure the association is, what the star
-- is (distance, colour, motion), and a star-level grade from the radio evidence that a star, not a
-- background source, is emitting. The rules are documented in marts.yml and enforced by
-- tests/assert_radio_star_grades_follow_rules.sql.
-- Incremental, merged by star (macros/incremental_runs.sql, prepare_star_merge): a build recomputes only
-- the stars whose detections were rebuilt since the last one (or are gone).
{% set full = rebuild_all(star_vars()) %}
{%- set stokes_v_detected -%}
    circular_polarisation_fraction is not null
    and (stokes_v_snr is null or stokes_v_snr >= {{ num_var('stokes_v_min_snr') }})
{%- endset %}
{#- A detection a paper can count: its association probability reaches the stated threshold. #}
{%- set secure -%}
    association_probability >= {{ num_var('star_detection_min_probability') }}
{%- endset %}
-- Planned for a run's worth of stars (a 1 M-pair run detects some 666 k, most once): the detections are
-- read once, narrow; one aggregate per star carries everything that needs no DISTINCT; the few stars
-- detected more than once get their distinct counts and variability from a side path; the star's own
-- columns come from one join on (run_id, star_id). No wide intermediate result is joined twice.
{%- set detection_columns -%}
    star_catalog, radio_id, survey, run_id, freq_mhz, epoch_jyear, flux_mjy, flux_error_mjy,
    association_probability, p_chance, separation_arcsec, grade, radio_luminosity_erg_s_hz, built_at,
    circular_polarisation_fraction, circular_polarisation_fraction_error, stokes_v_snr
{%- endset %}
with catalogue_detections as (
    select star_id, {{ detection_columns }}
    {%- if full %}
    from {{ ref('int_star_detections') }}
    {%- else %}
    from ({{ rows_of_changed_stars(ref('int_star_detections'), 'radiolake_restated_stars') }}) as changed
    {%- endif %}
),

-- The detections under their physical star: star_id is the physical star (the catalogue star itself, or
-- the Gaia star of its group in int_star_identities), catalogue_star_id the star the radio source was
-- matched to. A radio source detected through two stars of one group counts once.
detections as (
    select c.star_id, c.star_id as catalogue_star_id, {{ detection_columns }}
    from catalogue_detections as c
    where not exists (select 1 from {{ ref('int_star_identities') }} as i where i.star_id = c.star_id)
    union all
    select i.physical_star_id, c.star_id, {{ detection_columns }}
    from catalogue_detections as c
    inner join {{ ref('int_star_identities') }} as i on i.star_id = c.star_id
    where {{ counts_for_physical_star('c', 'i') }}
),

-- The newest runs, newest first (the order in which a star's own columns are taken from its runs).
run_recency as (
    select
        run_id,
        row_number() over (order by created_at desc nulls last, loaded_at desc, run_id desc) as newest_rank
    from {{ ref('int_runs') }}
    where is_latest_run
),

-- Stars detected more than once: the only ones with anything to aggregate (distinct counts, variability).
repeat_stars as (
    select star_id from detections group by star_id having count(*) > 1
),

-- Per star, plain aggregates (no DISTINCT aggregates: each sorts once per group, which over a million
-- stars costs far more than the rest of the model). Distinct surveys and runs are counted in `multi`
-- below; newest_run_rank finds the star's newest run. A star detected once (most stars) takes its one
-- detection's values, which are what the aggregates would give, without hashing every star into a group
-- (docs/performance-log.md).
-- A Stokes V value counts as a detection of circular polarisation when its S/N reaches the cut, or when
-- the catalogue lists V without an error (catalogues such as the SRSC list V only where it was detected).
star_detections as (
    select
        d.star_id,
        d.star_catalog,
        1::bigint as n_detections,
        d.survey as min_survey,
        d.survey as max_survey,
        d.freq_mhz as freq_min_mhz,
        d.freq_mhz as freq_max_mhz,
        d.epoch_jyear as first_epoch_jyear,
        d.epoch_jyear as last_epoch_jyear,
        d.flux_mjy as flux_min_mjy,
        d.flux_mjy as flux_max_mjy,
        case when d.flux_mjy > 0 then d.flux_mjy / d.flux_mjy end as flux_max_min_ratio,
        d.association_probability as best_association_probability,
        d.p_chance as min_p_chance,
        d.separation_arcsec as min_separation_arcsec,
        d.grade as best_candidate_grade,
        d.radio_luminosity_erg_s_hz as max_radio_luminosity_erg_s_hz,
        {%- for band in radio_bands() %}
        case when {{ in_radio_band('d.freq_mhz', band) }} then d.radio_luminosity_erg_s_hz end
            as {{ band_luminosity_column(band) }},
        {%- endfor %}
        (case when {{ secure }} then 1 else 0 end)::bigint as n_secure_detections,
        d.built_at as detections_built_at,
        r.newest_rank as newest_run_rank,
        r.newest_rank as oldest_run_rank,
        r.newest_rank as own_run_rank,
        (case when {{ stokes_v_detected }} then 1 else 0 end)::bigint as n_circular_polarisation_detections,
        case when {{ stokes_v_detected }} then d.circular_polarisation_fraction end
            as max_circular_polarisation_fraction,
        case when {{ stokes_v_detected }} then d.circular_polarisation_fraction_error end
            as max_circular_polarisation_fraction_error,
        case when {{ stokes_v_detected }} then d.stokes_v_snr end as max_circular_polarisation_snr
    from detections as d
    left join run_recency as r on r.run_id = d.run_id
    where not exists (select 1 from repeat_stars as rs where rs.star_id = d.star_id)

    union all

    select
        d.star_id,
        -- the physical star's own catalogue (its Gaia star's, in a group)
        min(d.star_catalog) filter (where d.catalogue_star_id = d.star_id) as star_catalog,
        count(*) as n_detections,
        min(d.survey) as min_survey,
        max(d.survey) as max_survey,
        min(d.freq_mhz) as freq_min_mhz,
        max(d.freq_mhz) as freq_max_mhz,
        min(d.epoch_jyear) as first_epoch_jyear,
        max(d.epoch_jyear) as last_epoch_jyear,
        min(d.flux_mjy) as flux_min_mjy,
        max(d.flux_mjy) as flux_max_mjy,
        case when min(d.flux_mjy) > 0 then max(d.flux_mjy) / min(d.flux_mjy) end as flux_max_min_ratio,
        max(d.association_probability) as best_association_probability,
        min(d.p_chance) as min_p_chance,
        min(d.separation_arcsec) as min_separation_arcsec,
        min(d.grade) as best_candidate_grade,  -- 'A' < 'B' < 'C'
        max(d.radio_luminosity_erg_s_hz) as max_radio_luminosity_erg_s_hz,
        {%- for band in radio_bands() %}
        max(d.radio_luminosity_erg_s_hz) filter (where {{ in_radio_band('d.freq_mhz', band) }})
            as {{ band_luminosity_column(band) }},
        {%- endfor %}
        count(*) filter (where {{ secure }}) as n_secure_detections,
        max(d.built_at) as detections_built_at,
        min(r.newest_rank) as newest_run_rank,
        max(r.newest_rank) as oldest_run_rank,  -- differs from newest_run_rank when two runs detected it
        -- the newest run that detected the physical star's own catalogue star (its columns come from there)
        min(r.newest_rank) filter (where d.catalogue_star_id = d.star_id) as own_run_rank,
        count(*) filter (where {{ stokes_v_detected }}) as n_circular_polarisation_detections,
        max(d.circular_polarisation_fraction) filter (where {{ stokes_v_detected }})
            as max_circular_polarisation_fraction,
        -- The error and S/N of the detection with the largest |V|/I (not the largest of each).
        (array_agg(d.circular_polarisation_fraction_error
                   order by d.circular_polarisation_fraction desc, d.circular_polarisation_fraction_error,
                            d.stokes_v_snr desc nulls last) filter (where {{ stokes_v_detected }}))[1]
            as max_circular_polarisation_fraction_error,
        (array_agg(d.stokes_v_snr
                   order by d.circular_polarisation_fraction desc, d.circular_polarisation_fraction_error,
                            d.stokes_v_snr desc nulls last) filter (where {{ stokes_v_detected }}))[1]
            as max_circular_polarisation_snr
    from detections as d
    left join run_recency as r on r.run_id = d.run_id
    where d.star_id in (select star_id from repeat_stars)
    group by d.star_id
),

-- Distinct surveys and runs of the stars detected more than once (the others have one of each).
multi as (
    select
        star_id,
        count(distinct survey) as n_surveys,
        string_agg(distinct survey, ',' order by survey) as surveys,
        count(distinct run_id) as n_runs
    from detections
    where star_id in (select star_id from repeat_stars)
    group by star_id
),

-- Variability is measured within one observing frequency: flux differences between frequencies are a
-- spectrum, not variability. Errors get a fractional systematic floor (flux scales of different
-- surveys and epochs agree to a few per cent, not to the local rms).
per_frequency as (
    select
        star_id,
        freq_mhz,
        count(*) as n_detections,
        avg(flux_mjy order by flux_mjy) as mean_flux_mjy,
        stddev_samp(flux_mjy order by flux_mjy) / avg(flux_mjy order by flux_mjy) as modulation_index,
        max(flux_mjy) / min(flux_mjy) as flux_ratio,
        count(flux_error_mjy) as n_with_error,
        sum(1.0 / (power(flux_error_mjy, 2) + power({{ var('flux_systematic_fraction') }} * flux_mjy, 2))
            order by flux_mjy) as sum_w,
        sum(flux_mjy / (power(flux_error_mjy, 2) + power({{ var('flux_systematic_fraction') }} * flux_mjy, 2))
            order by flux_mjy) as sum_ws,
        sum(power(flux_mjy, 2)
            / (power(flux_error_mjy, 2) + power({{ var('flux_systematic_fraction') }} * flux_mjy, 2))
            order by flux_mjy)
            as sum_wss
    from detections
    where flux_mjy > 0 and freq_mhz is not null
      -- two detections at one frequency need two detections: skip the (many) stars detected once
      and star_id in (select star_id from repeat_stars)
    group by star_id, freq_mhz
    having count(*) >= 2
),

variability as (
    select
        star_id,
        freq_mhz,
        n_detections,
        modulation_index,
        -- Standard error of a sample standard deviation, carried to m = sd / mean.
        modulation_index / sqrt(2.0 * (n_detections - 1)) as modulation_index_error,
        flux_ratio,
        -- Reduced chi^2 about the weighted mean ("eta", as VAST uses it); only when every flux has an error.
        case when n_with_error = n_detections and sum_w > 0
             then greatest(sum_wss - power(sum_ws, 2) / sum_w, 0.0) / (n_detections - 1) end as eta,
        row_number() over (partition by star_id order by n_detections desc, freq_mhz) as most_detections_first
    from per_frequency
),

star_variability as (
    select
        star_id,
        bool_or(flux_ratio >= {{ var('variable_min_flux_ratio') }} and eta >= {{ var('variable_min_eta') }})
            as is_variable,
        max(case when most_detections_first = 1 then freq_mhz end) as variability_freq_mhz,
        max(case when most_detections_first = 1 then n_detections end) as variability_n_detections,
        max(case when most_detections_first = 1 then modulation_index end) as flux_modulation_index,
        max(case when most_detections_first = 1 then modulation_index_error end) as flux_modulation_index_error,
        max(case when most_detections_first = 1 then eta end) as flux_variability_eta,
        max(flux_ratio) as max_flux_ratio_same_freq
    from variability
    group by star_id
),

-- The catalogue stars of each group of int_star_identities, physical star first.
groups as (
    select
        physical_star_id,
        string_agg(star_id, ',' order by member_rank) as catalogue_star_ids,
        count(*) as n_catalogue_stars,
        (array_agg({{ catalogue_number('star_id', 'gaia_id_prefix') }} order by member_rank)
            filter (where {{ catalogue_number('star_id', 'gaia_id_prefix') }} is not null))[1] as gaia_source_id,
        (array_agg({{ catalogue_number('star_id', 'hipparcos_id_prefix') }} order by member_rank)
            filter (where {{ catalogue_number('star_id', 'hipparcos_id_prefix') }} is not null))[1] as hip_id,
        max(identity_separation_arcsec) as max_identity_separation_arcsec
    from {{ ref('int_star_identities') }}
    group by physical_star_id
),

graded as (
    select
        d.star_id,
        d.star_catalog,
        d.n_detections,
        d.n_secure_detections,
        case when d.min_survey is null then 0 when d.min_survey = d.max_survey then 1 else m.n_surveys end
            as n_surveys,
        case when d.min_survey = d.max_survey then d.min_survey else m.surveys end as surveys,
        case when d.newest_run_rank = d.oldest_run_rank then 1 else m.n_runs end as n_runs,
        d.freq_min_mhz,
        d.freq_max_mhz,
        d.first_epoch_jyear,
        d.last_epoch_jyear,
        d.flux_min_mjy,
        d.flux_max_mjy,
        d.flux_max_min_ratio,
        d.best_association_probability,
        d.min_p_chance,
        d.min_separation_arcsec,
        d.best_candidate_grade,
        d.max_radio_luminosity_erg_s_hz,
        {%- for band in radio_bands() %}
        d.{{ band_luminosity_column(band) }},
        {%- endfor %}
        d.detections_built_at,
        coalesce(g.catalogue_star_ids, d.star_id) as catalogue_star_ids,
        coalesce(g.n_catalogue_stars, 1) as n_catalogue_stars,
        coalesce(g.gaia_source_id, {{ catalogue_number('d.star_id', 'gaia_id_prefix') }}) as gaia_source_id,
        coalesce(g.hip_id, {{ catalogue_number('d.star_id', 'hipparcos_id_prefix') }}) as hip_id,
        g.max_identity_separation_arcsec,
        -- The star's own columns, from the newest run that detected it (its Gaia star, in a group).
        s.ra_deg as star_ra_deg,
        s.dec_deg as star_dec_deg,
        s.epoch_jyear as star_epoch_jyear,
        s.parallax_mas,
        s.parallax_error_mas,
        {{ distance_pc('s.parallax_mas', 's.parallax_error_mas') }} as distance_pc,
        s.phot_g_mag,
        s.phot_bp_mag,
        s.phot_rp_mag,
        s.bp_rp_mag,
        s.pmra_mas_yr,
        s.pmdec_mas_yr,
        sqrt(power(s.pmra_mas_yr, 2) + power(s.pmdec_mas_yr, 2)) as pm_total_mas_yr,
        d.n_circular_polarisation_detections,
        d.max_circular_polarisation_fraction,
        d.max_circular_polarisation_fraction_error,
        d.max_circular_polarisation_snr,
        coalesce(d.max_circular_polarisation_fraction >= {{ var('star_min_circular_polarisation') }}, false)
            as has_high_circular_polarisation,
        v.variability_freq_mhz,
        v.variability_n_detections,
        v.flux_modulation_index,
        v.flux_modulation_index_error,
        v.flux_variability_eta,
        v.max_flux_ratio_same_freq,
        coalesce(v.is_variable, false) as is_variable
    from star_detections as d
    left join run_recency as r on r.newest_rank = d.own_run_rank
    left join {{ ref('int_latest_stars') }} as s on s.run_id = r.run_id and s.star_id = d.star_id
    left join groups as g on g.physical_star_id = d.star_id
    left join multi as m on m.star_id = d.star_id
    left join star_variability as v on v.star_id = d.star_id
)

select
    star_id,
    star_catalog,
    catalogue_star_ids,
    n_catalogue_stars,
    gaia_source_id,
    hip_id,
    max_identity_separation_arcsec,
    n_detections,
    n_secure_detections,
    -- The threshold n_secure_detections used, stated with every row.
    {{ num_var('star_detection_min_probability') }} as secure_detection_min_probability,
    n_surveys,
    surveys,
    n_runs,
    freq_min_mhz,
    freq_max_mhz,
    first_epoch_jyear,
    last_epoch_jyear,
    flux_min_mjy,
    flux_max_mjy,
    flux_max_min_ratio,
    best_association_probability,
    min_p_chance,
    min_separation_arcsec,
    best_candidate_grade,
    max_radio_luminosity_erg_s_hz,
    {%- for band in radio_bands() %}
    {{ band_luminosity_column(band) }},
    {%- endfor %}
    detections_built_at,
    star_ra_deg,
    star_dec_deg,
    star_epoch_jyear,
    parallax_mas,
    parallax_error_mas,
    distance_pc,
    phot_g_mag,
    case when distance_pc is not null then phot_g_mag + 5.0 * log(parallax_mas / 100.0) end as abs_g_mag,
    phot_bp_mag,
    phot_rp_mag,
    bp_rp_mag,
    pmra_mas_yr,
    pmdec_mas_yr,
    pm_total_mas_yr,
    n_circular_polarisation_detections,
    max_circular_polarisation_fraction,
    max_circular_polarisation_fraction_error,
    max_circular_polarisation_snr,
    -- The |V|/sigma_V a Stokes V value needed to count as circular polarisation, stated with every row.
    {{ num_var('stokes_v_min_snr') }} as circular_polarisation_min_snr,
    has_high_circular_polarisation,
    variability_freq_mhz,
    variability_n_detections,
    flux_modulation_index,
    flux_modulation_index_error,
    flux_variability_eta,
    max_flux_ratio_same_freq,
    is_variable,
    coalesce(nullif(concat_ws('+',
        case when has_high_circular_polarisation then 'circular_polarisation' end,
        case when is_variable then 'variability' end), ''), 'none') as star_evidence,
    case
        when best_candidate_grade in ('A', 'B') and (has_high_circular_polarisation or is_variable) then 'A'
        when best_candidate_grade in ('A', 'B') then 'B'
        else 'C'
    end as star_grade
from graded
