# Warehouse and Airflow metadata databases, their owner roles and the analyst role. Same names as
# radiolake/config.py, docker/postgres/init/ and the embedded stack. The analyst gets CONNECT only: the
# warehouse code grants it read on schema marts once the marts exist.

provider "postgresql" {
  host            = var.postgres_host
  port            = var.postgres_port
  username        = var.postgres_admin_user
  password        = var.postgres_admin_password
  sslmode         = var.postgres_sslmode
  connect_timeout = 15
  superuser       = true
}

resource "postgresql_role" "radiolake" {
  name     = "radiolake"
  login    = true
  password = var.warehouse_password

  # Timeouts as radiolake/timeouts.py ROLE_LIMITS_MS (lock_timeout: the provider has no attribute; dbt
  # sessions set it through PGOPTIONS).
  statement_timeout                   = 7200000
  idle_in_transaction_session_timeout = 1800000

  # Least privilege: nothing cluster-wide.
  superuser                 = false
  create_database           = false
  create_role               = false
  replication               = false
  bypass_row_level_security = false
}

resource "postgresql_role" "airflow" {
  name     = "airflow"
  login    = true
  password = var.airflow_db_password

  # Least privilege: nothing cluster-wide.
  superuser                 = false
  create_database           = false
  create_role               = false
  replication               = false
  bypass_row_level_security = false
}

resource "postgresql_role" "analyst" {
  name     = "analyst"
  login    = true
  password = var.analyst_password

  # Timeouts as radiolake/timeouts.py ROLE_LIMITS_MS (lock_timeout: the provider has no attribute; dbt
  # sessions set it through PGOPTIONS). Nor has it one for idle_session_timeout, or for privileges on the
  # pg_catalog advisory-lock functions, which PUBLIC (so the analyst) may execute until revoked: after apply,
  # run as the admin, in every database, the DO block of docker/postgres/init/10-radiolake-roles.sh and
  # ALTER ROLE analyst SET idle_session_timeout = '3600000ms' (docs/security-warehouse.md). The warehouse
  # grant run logs a warning while the analyst can still take the pipeline's locks.
  statement_timeout                   = 1800000
  idle_in_transaction_session_timeout = 600000

  # Least privilege: nothing cluster-wide.
  superuser                 = false
  create_database           = false
  create_role               = false
  replication               = false
  bypass_row_level_security = false
}

resource "postgresql_database" "warehouse" {
  name  = "warehouse"
  owner = postgresql_role.radiolake.name
}

resource "postgresql_database" "airflow" {
  name  = "airflow"
  owner = postgresql_role.airflow.name
}

resource "postgresql_schema" "warehouse" {
  for_each = toset(["load", "staging", "intermediate", "marts"])

  name     = each.key
  database = postgresql_database.warehouse.name
  owner    = postgresql_role.radiolake.name
}

resource "postgresql_grant" "analyst_connect" {
  database    = postgresql_database.warehouse.name
  role        = postgresql_role.analyst.name
  object_type = "database"
  privileges  = ["CONNECT"]
}

# PostgreSQL grants CONNECT and TEMPORARY on every new database to PUBLIC (every role, present and future).
# Revoke them, as docker/postgres/init does: only the owners, and the analyst on the warehouse, may connect.
# An empty privilege list makes the provider revoke everything PUBLIC holds on the database.
resource "postgresql_grant" "revoke_public_database" {
  for_each = toset([postgresql_database.warehouse.name, postgresql_database.airflow.name])

  database    = each.key
  role        = "public"
  object_type = "database"
  privileges  = []
}

# Nor may PUBLIC create objects in the warehouse's public schema (the loader keeps its tables in `load`).
resource "postgresql_grant" "revoke_public_schema" {
  database    = postgresql_database.warehouse.name
  schema      = "public"
  role        = "public"
  object_type = "schema"
  privileges  = []
}
