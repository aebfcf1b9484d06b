{# The candidate grade (marts.yml, radio_star_candidates.grade) of the int_best_matches row aliased `m`.
   One definition for the candidates view, the summaries and int_star_detections, which read
   int_best_matches themselves (marts read intermediate models, not other marts; and they need not wait for
   the view's tests); the cuts are dbt vars (num_var). The two
   top grades need stellar evidence (population 'star', set by the cross-match: crossmatch/populations.py);
   a quasar or galaxy counterpart, however probable, is C here and is listed in
   radio_extragalactic_counterparts. #}
{% macro candidate_grade(m) -%}
    case
        when {{ m }}.population = 'star'
             and {{ m }}.association_probability >= {{ num_var('grade_a_min_probability') }}
             and {{ m }}.parallax_snr >= {{ num_var('grade_a_min_parallax_snr') }}
            then 'A'
        when {{ m }}.population = 'star'
             and {{ m }}.association_probability >= {{ num_var('grade_b_min_probability') }}
            then 'B'
        else 'C'
    end
{%- endmacro %}
