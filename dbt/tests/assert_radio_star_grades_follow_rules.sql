-- Rows of marts.radio_stars whose star_grade or counts disagree with the documented rules (marts.yml):
-- recomputed here from radio_star_detections, independently of the model's SQL.
with recount as (
    select
        star_id,
        count(*) as n_detections,
        min(grade) as best_candidate_grade,
        coalesce(max(circular_polarisation_fraction) filter (
            where stokes_v_snr is null or stokes_v_snr >= {{ var('stokes_v_min_snr') }}
        ), 0) >= {{ var('star_min_circular_polarisation') }} as polarised
    from {{ ref('radio_star_detections') }}
    where {{ check_scope(ref('radio_stars')) }}  -- the stars of the checked runs (macros/check_scope.sql)
    group by star_id
)

select s.star_id, s.star_grade, s.n_detections, r.n_detections as recounted
from {{ ref('radio_stars') }} as s
left join recount as r on r.star_id = s.star_id
where {{ check_scope(ref('radio_stars'), 's') }} and (r.star_id is null
   or s.n_detections <> r.n_detections
   or s.best_candidate_grade <> r.best_candidate_grade
   or s.has_high_circular_polarisation <> r.polarised
   or s.star_grade <> case
        when r.best_candidate_grade in ('A', 'B') and (r.polarised or s.is_variable) then 'A'
        when r.best_candidate_grade in ('A', 'B') then 'B'
        else 'C'
      end)
