-- Rows of marts.radio_stars whose star_grade or counts disagree with the documented rules (marts.yml):
-- recomputed here from radio_star_detections, independently of the model's SQL.
-- Checking some runs (macros/check_scope.sql), the stars they detected are recounted and their
-- radio_stars rows looked up (a star missing from radio_stars fails too); checking everything, every
-- radio_stars row is compared (a full join: a star without detections fails).
{%- set scope = check_scope(ref('radio_stars')) %}
with recount as (
    select
        physical_star_id as star_id,
        count(*) as n_detections,
        min(grade) as best_candidate_grade,
        coalesce(max(circular_polarisation_fraction) filter (
            where stokes_v_snr is null or stokes_v_snr >= {{ var('stokes_v_min_snr') }}
        ), 0) >= {{ var('star_min_circular_polarisation') }} as polarised
    from {{ ref('radio_star_detections') }}
    -- each physical star's detections, a radio source seen through two of its catalogue stars once
    where counts_for_physical_star and {{ scope | replace('star_id in', 'physical_star_id in') }}
    group by physical_star_id
)

select coalesce(s.star_id, r.star_id) as star_id, s.star_grade, s.n_detections, r.n_detections as recounted
from recount as r
{{ 'full' if scope == 'true' else 'left' }} join {{ ref('radio_stars') }} as s on s.star_id = r.star_id
where r.star_id is null
   or s.star_id is null
   or s.n_detections <> r.n_detections
   or s.best_candidate_grade <> r.best_candidate_grade
   or s.has_high_circular_polarisation <> r.polarised
   or s.star_grade <> case
        when r.best_candidate_grade in ('A', 'B') and (r.polarised or s.is_variable) then 'A'
        when r.best_candidate_grade in ('A', 'B') then 'B'
        else 'C'
      end
