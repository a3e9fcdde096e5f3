#!/usr/bin/env bash
# One command on a fresh machine: install everything, then lint and run the whole suite
# on SQLite and again on PostgreSQL (a fresh database each run), with Redis up and a
# streaming replica of the PostgreSQL cluster (scripts/pg_replica.sh).
# Needs root (or sudo) only to install missing Debian packages and start the services.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PG_URL="${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}"
export TEST_REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export DEBIAN_FRONTEND=noninteractive
WORKERS="${PYTEST_WORKERS:-2}"
started=$(date +%s)

step() { printf '\n==> %s\n' "$*"; }
die() { printf '\nFAILED: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# -- system packages -------------------------------------------------------------------------
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v pg_ctlcluster >/dev/null || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v npm >/dev/null || missing+=(npm)
for pkg in libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
fresh_postgres=no
if [ ${#missing[@]} -gt 0 ]; then
  step "Installing Debian packages: ${missing[*]}"
  [[ " ${missing[*]} " == *" postgresql "* ]] && fresh_postgres=yes
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# -- Python ----------------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  step "Creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
step "Installing the portal and its test tools into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

# -- axe-core for the accessibility tests (tests/browser/package-lock.json) ---------------------
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
  step "Installing axe-core (npm ci in tests/browser)"
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
fi

# -- services: started when not running; never skipped ---------------------------------------
pg_up() {
  .venv/bin/python - "$PG_URL" <<'PY' >/dev/null 2>&1
import sys

import sqlalchemy as sa

engine = sa.create_engine(sys.argv[1], connect_args={"connect_timeout": 3})
with engine.connect() as conn:
    conn.exec_driver_sql("SELECT 1")
PY
}
redis_up() {
  .venv/bin/python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=2).ping()" \
    "$TEST_REDIS_URL" >/dev/null 2>&1
}
wait_for() {
  for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done
  return 1
}

if ! pg_up; then
  step "Starting PostgreSQL"
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
  [ -n "$version" ] || die "PostgreSQL is not installed (no cluster in /etc/postgresql)"
  if [ "$fresh_postgres" = yes ]; then
    # A fresh Debian cluster asks for passwords on TCP; tests connect as postgres on loopback.
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for pg_up || die "PostgreSQL does not answer at $PG_URL"
fi
if ! redis_up; then
  step "Starting Redis"
  as_root redis-server --daemonize yes --port 6379 --save "" --appendonly no >/dev/null || true
  wait_for redis_up || die "Redis does not answer at $TEST_REDIS_URL"
fi

# -- the read replica (tests/foundation/test_read_replica.py): a second local cluster -------
# streaming from the primary above; made when missing, recreated when broken, else left alone.
if [ -z "${TEST_DATABASE_REPLICA_URL:-}" ]; then
  step "PostgreSQL streaming replica (scripts/pg_replica.sh)"
  read -r primary_host primary_port < <(.venv/bin/python -c \
    "import sys; from sqlalchemy.engine import make_url; u = make_url(sys.argv[1]); \
print(u.host or '127.0.0.1', u.port or 5432)" "$PG_URL")
  export REPLICA_PORT="${REPLICA_PORT:-5433}"
  PRIMARY_HOST="$primary_host" PRIMARY_PORT="$primary_port" bash scripts/pg_replica.sh \
    || die "the PostgreSQL replica could not be made or started"
  export TEST_DATABASE_REPLICA_URL="postgresql+psycopg://postgres@127.0.0.1:$REPLICA_PORT/postgres"
fi

# -- lint, translations, tests ---------------------------------------------------------------
step "ruff check"
.venv/bin/ruff check .
step "ruff format --check"
.venv/bin/ruff format --check .
step "lint-imports (the house's architecture contracts in pyproject.toml)"
.venv/bin/lint-imports

step "Compiling translations"
.venv/bin/pybabel compile -d translations >/dev/null

# --durations: the slowest tests of each run in the log, to keep the suite within its budget.
pytest_args=(-q -p no:cacheprovider --durations=15)
if [ "$WORKERS" != 0 ] && [ "$WORKERS" != 1 ]; then
  # worksteal: an idle worker takes tests queued for the other, so a long test near the end
  # of one worker's share does not leave the other core idle.
  pytest_args+=(-n "$WORKERS" --dist worksteal)
fi

step "Test suite on SQLite"
env -u TEST_DATABASE_URL .venv/bin/python -m pytest "${pytest_args[@]}"

step "Test suite on PostgreSQL ($PG_URL)"
TEST_DATABASE_URL="$PG_URL" .venv/bin/python -m pytest "${pytest_args[@]}"

step "All green in $(($(date +%s) - started)) s"
