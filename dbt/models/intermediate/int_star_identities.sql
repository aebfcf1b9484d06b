{{ config(materialized='table', indexes=[{'columns': ['star_id'], 'unique': True}, {'columns': ['physical_star_id']}]) }}
-- Catalogue stars that are one physical star (issue 21): a Hipparcos (or other non-Gaia) star and the Gaia DR3
-- star at its place, or two Gaia DR3 sources of one star (a duplicated source). One row per member of each
-- such group, naming the group's physical star: its Gaia id (the smallest, for a duplicated source), which
-- radio_stars keys the physical star's row by. Stars alone in their group have no row (most stars).
-- Only detected stars (int_star_detections) are compared, each with the astrometry of a newest run that
-- detected it (int_latest_stars). Two stars are one when, at the common epoch (var star_identity_epoch_jyear,
-- Gaia DR3's J2016.0; positions moved there by their proper motions), they lie within
-- star_identity_max_separation_arcsec of each other, and, where both give them, their magnitudes agree within
-- star_identity_max_mag_difference and their parallaxes within star_identity_max_parallax_sigma sigma.
-- A non-Gaia star joins its nearest such Gaia star. The search joins stars in declination bands one radius
-- wide (a hash join), then checks the great-circle separation.
{%- set radius_deg = num_var('star_identity_max_separation_arcsec') ~ ' / 3600.0' %}
{%- set epoch = num_var('star_identity_epoch_jyear') %}
with detected as (
    select distinct d.star_id, d.run_id
    from {{ ref('int_star_detections') }} as d
),

-- Not materialized: each side of the band join below reads what it needs (the Gaia side only Gaia stars),
-- and a sky without Gaia stars reads no more than an empty Gaia side.
stars as not materialized (
    select
        d.star_id,
        split_part(d.star_id, ':', 1) = '{{ catalogue_prefix_var("gaia_id_prefix") }}' as is_gaia,
        s.dec_deg + coalesce(s.pmdec_mas_yr, 0) * ({{ epoch }} - s.epoch_jyear) / 3.6e6 as dec_deg,
        s.ra_deg + coalesce(s.pmra_mas_yr, 0) * ({{ epoch }} - s.epoch_jyear) / 3.6e6
            / greatest(cos(radians(s.dec_deg)), 1e-6) as ra_deg,
        s.parallax_mas,
        s.parallax_error_mas,
        s.phot_g_mag
    from detected as d
    inner join {{ ref('int_latest_stars') }} as s on s.run_id = d.run_id and s.star_id = d.star_id
),

banded as not materialized (
    select *, floor(dec_deg / ({{ radius_deg }}))::bigint as band from stars
),

-- Pairs (star, Gaia star at its place): a non-Gaia star with any Gaia star, a Gaia star with a Gaia star of
-- a smaller id (one of each duplicated pair).
pairs as (
    select
        a.star_id,
        g.star_id as gaia_star_id,
        degrees(2 * asin(least(1.0, sqrt(
            power(sin(radians(g.dec_deg - a.dec_deg) / 2), 2)
            + cos(radians(a.dec_deg)) * cos(radians(g.dec_deg)) * power(sin(radians(g.ra_deg - a.ra_deg) / 2), 2)
        )))) * 3600.0 as separation_arcsec
    from banded as a
    cross join (values (-1), (0), (1)) as k (offset_band)
    inner join banded as g on g.band = a.band + k.offset_band
    where g.is_gaia
      and (not a.is_gaia or g.star_id < a.star_id)
      and (a.phot_g_mag is null or g.phot_g_mag is null
           or abs(a.phot_g_mag - g.phot_g_mag) <= {{ num_var('star_identity_max_mag_difference') }})
      and (a.parallax_mas is null or g.parallax_mas is null
           or abs(a.parallax_mas - g.parallax_mas) <= {{ num_var('star_identity_max_parallax_sigma') }}
              * sqrt(power(coalesce(a.parallax_error_mas, 0), 2) + power(coalesce(g.parallax_error_mas, 0), 2)))
),

-- Each star's nearest Gaia star within the radius.
nearest as (
    select distinct on (star_id) star_id, gaia_star_id, separation_arcsec
    from pairs
    where separation_arcsec <= {{ num_var('star_identity_max_separation_arcsec') }}
    order by star_id, separation_arcsec, gaia_star_id
),

-- A Gaia star that is itself a duplicate names its group by the Gaia star it duplicates (one step).
members as (
    select n.star_id, coalesce(dup.gaia_star_id, n.gaia_star_id) as physical_star_id, n.separation_arcsec
    from nearest as n
    left join nearest as dup on dup.star_id = n.gaia_star_id
    union all
    select distinct coalesce(dup.gaia_star_id, n.gaia_star_id), coalesce(dup.gaia_star_id, n.gaia_star_id),
        0.0::float8
    from nearest as n
    left join nearest as dup on dup.star_id = n.gaia_star_id
)

select
    star_id,
    physical_star_id,
    -- 1 for the physical star itself, then Gaia members, then the others: a radio source detected
    -- through several members counts once, as the detection of the first (macros/physical_stars.sql).
    row_number() over (
        partition by physical_star_id
        order by star_id = physical_star_id desc, split_part(star_id, ':', 1) = '{{ catalogue_prefix_var("gaia_id_prefix") }}' desc, star_id
    ) as member_rank,
    count(*) over (partition by physical_star_id) as n_members,
    -- from the Gaia star it joined, at the common epoch (0 for the physical star)
    separation_arcsec as identity_separation_arcsec
from (select distinct on (star_id) * from members order by star_id, physical_star_id) as m
