{# Rows whose value lies outside [min_value, max_value] (either bound optional). Nulls pass: not_null is
   tested separately where a value is required. #}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }} as value_out_of_range
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %}
  )
{% endtest %}
