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
}

resource "postgresql_role" "airflow" {
  name     = "airflow"
  login    = true
  password = var.airflow_db_password
}

resource "postgresql_role" "analyst" {
  name     = "analyst"
  login    = true
  password = var.analyst_password
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
