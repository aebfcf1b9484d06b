# What the pipeline needs, under the names it reads (RADIOLAKE_* in radiolake/config.py).

locals {
  s3_endpoint = "${var.minio_ssl ? "https" : "http"}://${var.minio_server}"
  # checkov:skip=CKV_SECRET_4: a format template filled with variables, no credential in the text
  warehouse_dsn = format("postgresql://%s:%s@%s:%d/%s", postgresql_role.radiolake.name,
    urlencode(var.warehouse_password), var.postgres_host, var.postgres_port,
  postgresql_database.warehouse.name)
}

output "s3_endpoint" {
  description = "RADIOLAKE_S3_ENDPOINT"
  value       = local.s3_endpoint
}

output "s3_access_key" {
  description = "RADIOLAKE_S3_ACCESS_KEY"
  value       = minio_iam_user.pipeline.name
}

output "s3_region" {
  description = "RADIOLAKE_S3_REGION"
  value       = var.s3_region
}

output "buckets" {
  description = "RADIOLAKE_BUCKET_<KIND> for each kind"
  value       = { for kind, bucket in minio_s3_bucket.lake : kind => bucket.bucket }
}

output "warehouse_dsn" {
  description = "RADIOLAKE_WAREHOUSE_DSN (contains the password)"
  value       = local.warehouse_dsn
  sensitive   = true
}

output "analyst_role" {
  description = "Read-only role for the marts"
  value       = postgresql_role.analyst.name
}

output "radiolake_env" {
  description = "The RADIOLAKE_* environment for the pipeline, ready for an env file"
  sensitive   = true
  value = merge(
    {
      RADIOLAKE_S3_ENDPOINT   = local.s3_endpoint
      RADIOLAKE_S3_ACCESS_KEY = minio_iam_user.pipeline.name
      RADIOLAKE_S3_SECRET_KEY = var.pipeline_secret_key
      RADIOLAKE_S3_REGION     = var.s3_region
      RADIOLAKE_WAREHOUSE_DSN = local.warehouse_dsn
    },
    { for kind, bucket in minio_s3_bucket.lake : "RADIOLAKE_BUCKET_${upper(kind)}" => bucket.bucket },
  )
}
