-- Every graded candidate satisfies its grade's documented cuts (marts.yml, radio_star_candidates.grade),
-- and has the best grade it qualifies for. Written out independently of the model's CASE on purpose.
-- Returns the offending rows; none means pass.
with c as (
    select
        candidate_key,
        grade,
        coalesce(population = 'star', false)
          and coalesce(association_probability >= {{ num_var('grade_a_min_probability') }}, false)
          and coalesce(parallax_snr >= {{ num_var('grade_a_min_parallax_snr') }}, false) as meets_a,
        coalesce(population = 'star', false)
          and coalesce(association_probability >= {{ num_var('grade_b_min_probability') }}, false) as meets_b
    from {{ ref('radio_star_candidates') }}
    where {{ check_scope(ref('radio_star_candidates')) }}  -- the checked runs (macros/check_scope.sql)
)

select candidate_key, grade, meets_a, meets_b
from c
where grade is null
   or grade not in ('A', 'B', 'C')
   or (grade = 'A' and not meets_a)
   or (grade = 'B' and (not meets_b or meets_a))
   or (grade = 'C' and (meets_a or meets_b))
