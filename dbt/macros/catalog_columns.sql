{# SQL for the comma-separated names, in order, of the columns whose numbers are `attnums` (an int2[]
   expression) in the relation whose oid is `relid`: an index's or a constraint's key as text, for the
   catalog tests that check the keys the marts and the load partitions rely on. Its own aliases are long,
   so they never hide the caller's. #}
{% macro catalog_column_names(relid, attnums) -%}
    (select string_agg(key_attribute.attname, ',' order by key_part.position)
     from unnest({{ attnums }}) with ordinality as key_part (attnum, position)
     inner join pg_attribute as key_attribute
         on key_attribute.attrelid = {{ relid }} and key_attribute.attnum = key_part.attnum)
{%- endmacro %}
