#!/bin/bash
# First-start initialisation of the compose Postgres (the official image runs this once, on an empty data
# volume): the same databases and roles the embedded stack creates (names in radiolake/config.py).
#   warehouse  owned by login role radiolake  (loader, owner of the load/staging/intermediate/marts schemas)
#   airflow    owned by login role airflow    (Airflow's metadata database)
#   analyst    login role with no privileges; the warehouse code grants it read on schema marts only.
# Passwords come from the environment (.env) and reach SQL as psql variables, never spliced into SQL text.
set -euo pipefail

: "${WAREHOUSE_DB_PASSWORD:?set WAREHOUSE_DB_PASSWORD in .env}"
: "${AIRFLOW_DB_PASSWORD:?set AIRFLOW_DB_PASSWORD in .env}"
: "${ANALYST_DB_PASSWORD:?set ANALYST_DB_PASSWORD in .env}"

psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password)

"${psql[@]}" --dbname postgres \
  -v warehouse_pw="$WAREHOUSE_DB_PASSWORD" -v airflow_pw="$AIRFLOW_DB_PASSWORD" \
  -v analyst_pw="$ANALYST_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE radiolake LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'radiolake')\gexec
SELECT 'CREATE ROLE airflow LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'airflow')\gexec
SELECT 'CREATE ROLE analyst LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'analyst')\gexec
ALTER ROLE radiolake WITH LOGIN PASSWORD :'warehouse_pw';
ALTER ROLE airflow WITH LOGIN PASSWORD :'airflow_pw';
ALTER ROLE analyst WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'analyst_pw';
-- Timeouts per role, as the embedded stack sets them (radiolake/timeouts.py ROLE_LIMITS_MS): a session left
-- open in a transaction on a mart cannot stall every later dbt build forever.
ALTER ROLE radiolake SET statement_timeout = '7200000ms';
ALTER ROLE radiolake SET lock_timeout = '300000ms';
ALTER ROLE radiolake SET idle_in_transaction_session_timeout = '1800000ms';
ALTER ROLE analyst SET statement_timeout = '1800000ms';
ALTER ROLE analyst SET lock_timeout = '60000ms';
ALTER ROLE analyst SET idle_in_transaction_session_timeout = '600000ms';
ALTER ROLE analyst SET idle_session_timeout = '3600000ms';

SELECT 'CREATE DATABASE warehouse OWNER radiolake'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'warehouse')\gexec
SELECT 'CREATE DATABASE airflow OWNER airflow'
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'airflow')\gexec

-- Only the owners (and the analyst, on the warehouse) may connect.
REVOKE ALL ON DATABASE warehouse FROM PUBLIC;
REVOKE ALL ON DATABASE airflow FROM PUBLIC;
GRANT CONNECT ON DATABASE warehouse TO analyst;
-- Nobody but the superuser needs the system databases.
REVOKE ALL ON DATABASE postgres FROM PUBLIC;
REVOKE ALL ON DATABASE template1 FROM PUBLIC;
SQL

# Every pipeline lock is an advisory lock, which PUBLIC may take by default: only the pipeline roles may
# execute the advisory-lock functions, in every database (radiolake/stack/pg_access.py does the same).
for db in postgres template1 warehouse airflow; do
  "${psql[@]}" --dbname "$db" <<'SQL'
DO $$
DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
           WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE '%advisory%'
  LOOP
    EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO radiolake, airflow', f);
  END LOOP;
END
$$;
SQL
done

# Schemas owned by the loader; the analyst gets nothing here (the warehouse code grants marts read).
"${psql[@]}" --dbname warehouse <<'SQL'
CREATE SCHEMA IF NOT EXISTS load AUTHORIZATION radiolake;
CREATE SCHEMA IF NOT EXISTS staging AUTHORIZATION radiolake;
CREATE SCHEMA IF NOT EXISTS intermediate AUTHORIZATION radiolake;
CREATE SCHEMA IF NOT EXISTS marts AUTHORIZATION radiolake;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
echo "radiolake: roles radiolake, airflow, analyst and databases warehouse, airflow ready"
