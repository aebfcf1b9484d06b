#!/bin/sh
# One-shot gate for the compose stack: refuse to start while any secret in .env is empty or still one of
# .env.example's "change-me-..." placeholders. MinIO and Postgres wait for this job, so no server ever
# initialises its data volume with a published placeholder password.
# Names only are printed, never values. Runs in the minimal mc image (sh and coreutils only).
set -eu

SECRETS="MINIO_ROOT_PASSWORD RADIOLAKE_S3_SECRET_KEY POSTGRES_PASSWORD WAREHOUSE_DB_PASSWORD AIRFLOW_DB_PASSWORD
ANALYST_DB_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_JWT_SECRET SPARK_AUTH_SECRET"

bad=""
for name in $SECRETS; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | change-me*) bad="$bad $name" ;;
  esac
done

if [ -n "$bad" ]; then
  echo "check-secrets: ERROR these .env values are empty or still the change-me placeholder:$bad" >&2
  echo "check-secrets: set each to a fresh random value (e.g. \`openssl rand -hex 24\`), then \`docker compose up -d\`" >&2
  exit 1
fi
echo "check-secrets: every secret in .env is set and not a placeholder"
