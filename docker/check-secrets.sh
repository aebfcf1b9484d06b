#!/bin/sh
# One-shot gate for the compose stack: refuse to start while any secret in .env is empty, still one of
# .env.example's "change-me-..." placeholders (in any letter case), shorter than MIN_LENGTH, or (Airflow's
# Fernet key, which encrypts connections and variables in its database) not a Fernet key. MinIO and
# Postgres wait for this job, so no server ever initialises its data volume with a published or weak
# password. Names only are printed, never values. Runs in the minimal mc image (sh and coreutils only).
set -eu

SECRETS="MINIO_ROOT_PASSWORD RADIOLAKE_S3_SECRET_KEY RADIOLAKE_BROWSER_S3_SECRET_KEY POSTGRES_PASSWORD WAREHOUSE_DB_PASSWORD AIRFLOW_DB_PASSWORD
ANALYST_DB_PASSWORD AIRFLOW_ADMIN_PASSWORD AIRFLOW_JWT_SECRET SPARK_AUTH_SECRET AIRFLOW_FERNET_KEY"
MIN_LENGTH=16

bad=""
short=""
fernet=""
for name in $SECRETS; do
  eval "value=\${$name:-}"
  lower=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
  case "$lower" in
    "" | change-me* | changeme*) bad="$bad $name"; continue ;;
  esac
  if [ "${#value}" -lt "$MIN_LENGTH" ]; then
    short="$short $name"
  fi
done

# A Fernet key is 32 bytes in url-safe base64: 43 characters of A-Z a-z 0-9 - _ and one '='.
case "$bad" in
  *" AIRFLOW_FERNET_KEY"*) ;;
  *)
    key="${AIRFLOW_FERNET_KEY:-}"
    body="${key%=}"
    rest=$(printf '%s' "$body" | tr -d 'A-Za-z0-9_-')
    if [ "${#key}" -ne 44 ] || [ "$body" = "$key" ] || [ -n "$rest" ]; then
      fernet=" AIRFLOW_FERNET_KEY"
    fi
    ;;
esac

if [ -n "$bad$short$fernet" ]; then
  if [ -n "$bad" ]; then
    echo "check-secrets: ERROR these .env values are empty or still the change-me placeholder:$bad" >&2
  fi
  if [ -n "$short" ]; then
    echo "check-secrets: ERROR these .env values are shorter than $MIN_LENGTH characters:$short" >&2
  fi
  if [ -n "$fernet" ]; then
    echo "check-secrets: ERROR this .env value is not a Fernet key (32 bytes, url-safe base64):$fernet" >&2
    echo "check-secrets: make one with \`python3 -c 'import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'\`" >&2
  fi
  echo "check-secrets: set each to a fresh random value (e.g. \`openssl rand -hex 24\`), then \`docker compose up -d\`" >&2
  exit 1
fi
echo "check-secrets: every secret in .env is set, long enough and not a placeholder"
