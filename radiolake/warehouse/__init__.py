"""Warehouse: load cross-match runs into Postgres (schema `load`), build dbt marts, grant the analyst read."""
