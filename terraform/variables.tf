# Endpoints and credentials. Secrets have no default and are marked sensitive: pass them as TF_VAR_*
# environment variables (see docs/docker-compose.md), never in a committed .tfvars file.

variable "minio_server" {
  description = "MinIO S3 API as host:port (the compose stack publishes 127.0.0.1:9000)."
  type        = string
  default     = "127.0.0.1:9000"
}

variable "minio_ssl" {
  description = "Talk HTTPS to MinIO."
  type        = bool
  default     = false
}

variable "minio_root_user" {
  description = "MinIO root (admin) user: MINIO_ROOT_USER in .env."
  type        = string
}

variable "minio_root_password" {
  description = "MinIO root password: MINIO_ROOT_PASSWORD in .env."
  type        = string
  sensitive   = true
}

variable "s3_region" {
  description = "Region the buckets live in: RADIOLAKE_S3_REGION."
  type        = string
  default     = "us-east-1"
}

variable "buckets" {
  description = "The lake's buckets by kind (RADIOLAKE_BUCKET_*); the kinds are fixed by radiolake/config.py."
  type        = map(string)
  default = {
    raw      = "raw"
    catalogs = "catalogs"
    xmatch   = "xmatch"
    reports  = "reports"
  }

  validation {
    condition     = length(setsymmetricdifference(keys(var.buckets), ["raw", "catalogs", "xmatch", "reports"])) == 0
    error_message = "buckets must have exactly the kinds raw, catalogs, xmatch and reports."
  }
}

variable "pipeline_access_key" {
  description = "The pipeline's S3 user (RADIOLAKE_S3_ACCESS_KEY)."
  type        = string
  default     = "radiolake-pipeline"
}

variable "pipeline_secret_key" {
  description = "The pipeline's S3 secret (RADIOLAKE_S3_SECRET_KEY)."
  type        = string
  sensitive   = true
}

variable "browser_access_key" {
  description = "The bucket browser's read-only S3 user (RADIOLAKE_BROWSER_S3_ACCESS_KEY)."
  type        = string
  default     = "radiolake-browser"
}

variable "browser_secret_key" {
  description = "The bucket browser's S3 secret (RADIOLAKE_BROWSER_S3_SECRET_KEY)."
  type        = string
  sensitive   = true
}

variable "postgres_host" {
  description = "Postgres host as seen from where terraform runs."
  type        = string
  default     = "127.0.0.1"
}

variable "postgres_port" {
  description = "Postgres port (POSTGRES_PORT in .env)."
  type        = number
  default     = 5432
}

variable "postgres_sslmode" {
  description = "libpq sslmode for the admin connection (disable for the local stack)."
  type        = string
  default     = "disable"
}

variable "postgres_admin_user" {
  description = "A Postgres superuser that may create roles and databases."
  type        = string
  default     = "postgres"
}

variable "postgres_admin_password" {
  description = "That superuser's password (POSTGRES_PASSWORD in .env)."
  type        = string
  sensitive   = true
}

variable "warehouse_password" {
  description = "Password of role radiolake, owner of database warehouse (WAREHOUSE_DB_PASSWORD)."
  type        = string
  sensitive   = true
}

variable "airflow_db_password" {
  description = "Password of role airflow, owner of database airflow (AIRFLOW_DB_PASSWORD)."
  type        = string
  sensitive   = true
}

variable "analyst_password" {
  description = "Password of the read-only role analyst (ANALYST_DB_PASSWORD)."
  type        = string
  sensitive   = true
}
