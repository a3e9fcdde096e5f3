#!/usr/bin/env bash
# One command on a fresh machine: install, migrate, fill the demo data once, start the portal.
# Embedded default: SQLite in instance/, jobs in-process, emails written to instance/outbox/.
# Anything set in the environment or in .env (DATABASE_URL, REDIS_URL, MAIL_*) is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PORT="${PORT:-5000}"
export PORTAL_URL="${PORTAL_URL:-http://127.0.0.1:${PORT}}"

if [ ! -x .venv/bin/python ]; then
  echo "==> Creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
echo "==> Installing the portal into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .

flask() { .venv/bin/python -m flask --app app "$@"; }

echo "==> Compiling translations"
flask translate compile >/dev/null
echo "==> Migrating the database"
flask db upgrade

mkdir -p instance
LOGINS=instance/demo-logins.txt
empty=$(.venv/bin/python - <<'PY'
from sqlalchemy import func, select

from app import create_app
from tenants.core.extensions import db
from tenants.models import User

with create_app().app_context():
    print("yes" if not db.session.scalar(select(func.count()).select_from(User)) else "no")
PY
)
if [ "$empty" = "yes" ]; then
  echo "==> Empty database: filling it with the demo platform"
  flask demo | tee "$LOGINS"
elif [ -f "$LOGINS" ]; then
  echo "==> Demo logins (from the first run):"
  cat "$LOGINS"
else
  echo "==> The database already holds data; no demo was added."
fi

echo
echo "==> The portal is at ${PORTAL_URL}/  (Ctrl+C stops it)"
exec .venv/bin/python -m flask --app app run --host 127.0.0.1 --port "$PORT"
