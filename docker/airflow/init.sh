#!/usr/bin/env bash
# airflow-init (one-shot): migrate the metadata database and write the simple auth manager's password
# file from AIRFLOW_ADMIN_PASSWORD, so the UI login is admin / the password in .env. Safe to rerun.
set -euo pipefail

: "${AIRFLOW_ADMIN_PASSWORD:?set AIRFLOW_ADMIN_PASSWORD in .env}"

airflow db migrate

passwords_file="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:?}"
mkdir -p "$(dirname "$passwords_file")"
python - "$passwords_file" <<'PY'
import json, os, sys
path = sys.argv[1]
with open(path + ".tmp", "w") as fh:
    json.dump({"admin": os.environ["AIRFLOW_ADMIN_PASSWORD"]}, fh)
os.chmod(path + ".tmp", 0o600)
os.replace(path + ".tmp", path)
PY
echo "airflow-init: metadata database migrated; admin password set from .env"
