"""Configuration from the environment (and `.env`); the embedded default needs nothing."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from dotenv import load_dotenv

LANGUAGES = {"en": "English", "es": "Español"}


def _bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _with_driver(url: str) -> str:
    # Heroku-style URLs name no driver; the project talks to PostgreSQL through psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def database_url(instance_path: Path) -> str:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        return f"sqlite:///{instance_path / 'portal.db'}"
    return _with_driver(url)


def database_binds() -> dict[str, str]:
    """Flask-SQLAlchemy's extra engines: the streaming replica's, when DATABASE_REPLICA_URL
    is set (tenants.core.replica; the bind holds no tables)."""
    url = os.environ.get("DATABASE_REPLICA_URL", "").strip()
    return {"replica": _with_driver(url)} if url else {}


def secret_key(instance_path: Path) -> str:
    """SECRET_KEY from the environment, else generated once into instance/ (never hard-coded)."""
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def redis_client_options(config: dict) -> dict[str, float]:
    """Keyword arguments for every Redis client a request uses: short connect and read
    timeouts, so a Redis that accepts connections and never answers cannot hold a request."""
    timeout = float(config.get("REDIS_TIMEOUT_SECONDS", 0.2))
    return {"socket_connect_timeout": timeout, "socket_timeout": timeout}


def worker_limits() -> dict[str, int]:
    """The job worker's process is replaced after WORKER_MAX_JOBS jobs, or after a job that
    left it above WORKER_MAX_RSS_MB resident (PDF rendering leaves memory behind); 0: never.
    That process runs WORKER_NICE steps below the worker's own CPU priority: on a host shared
    with the web server, a request waiting for a core goes before a receipt's PDF."""
    return {
        "WORKER_MAX_JOBS": int(os.environ.get("WORKER_MAX_JOBS", "100")),
        "WORKER_MAX_RSS_MB": int(os.environ.get("WORKER_MAX_RSS_MB", "400")),
        "WORKER_NICE": int(os.environ.get("WORKER_NICE", "10")),
    }


def _database_settings(instance_path: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        # No pool_pre_ping: tenants.core.database pings only the connections that sat idle
        # or that the server closed (a restart), without a round trip on every request.
        "SQLALCHEMY_ENGINE_OPTIONS": {},
        # A PostgreSQL server that does not answer fails the request (503) after this long.
        "DATABASE_CONNECT_TIMEOUT": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", "5")),
        # The embedded SQLite file: how long a write waits for another writer (then 503).
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "30000")),
        # While the database cannot be reached, answers are 503 with this Retry-After.
        "OUTAGE_RETRY_AFTER": int(os.environ.get("OUTAGE_RETRY_AFTER", "5")),
    } | _replica_settings()


def _replica_settings() -> dict:
    """The read replica (tenants.core.replica): lists, CSV exports and dashboards read from
    it while it is reachable and caught up; a person's own writes stay visible to them."""
    return {
        "SQLALCHEMY_BINDS": database_binds(),
        # A replica that has not replayed the primary's latest writes and whose last replayed
        # commit is older than this is lagging: reads go to the primary meanwhile.
        "REPLICA_MAX_LAG_SECONDS": float(os.environ.get("REPLICA_MAX_LAG_SECONDS", "5")),
        # How long one check of the replica (reachable, in recovery, lag) is trusted.
        "REPLICA_CHECK_SECONDS": float(os.environ.get("REPLICA_CHECK_SECONDS", "2")),
        # A replica host that does not answer is given up (reads go to the primary) after this.
        "REPLICA_CONNECT_TIMEOUT": int(os.environ.get("REPLICA_CONNECT_TIMEOUT", "2")),
        # After a state-changing request, that browser reads from the primary this long; never
        # less than the two settings above together (tenants.web.replica.read_your_writes).
        "READ_YOUR_WRITES_SECONDS": float(os.environ.get("READ_YOUR_WRITES_SECONDS", "10")),
    }


def _job_settings() -> dict:
    """Redis, the job queue and what its jobs do (SMS gateway, top-ups, pending purchases)."""
    return worker_limits() | {
        "REDIS_URL": os.environ.get("REDIS_URL", "").strip() or None,
        # Connect and read timeout of every Redis call a request makes (rate limiter, job
        # hand-over): a Redis that hangs costs a request at most about this long.
        "REDIS_TIMEOUT_SECONDS": float(os.environ.get("REDIS_TIMEOUT_SECONDS", "0.2")),
        # After a failed hand-over, requests leave their jobs to the relay this long
        # instead of trying Redis again (and paying the timeout) on every request.
        "REDIS_RETRY_SECONDS": float(os.environ.get("REDIS_RETRY_SECONDS", "5")),
        "RQ_QUEUE": os.environ.get("RQ_QUEUE", "portal"),
        # Transient failures (SMTP down, gateway timeout) are retried after these seconds.
        "JOB_RETRY_INTERVALS": [
            int(s) for s in os.environ.get("JOB_RETRY_INTERVALS", "10,60,300,1800").split(",")
        ],
        "JOB_RELAY_SECONDS": float(os.environ.get("JOB_RELAY_SECONDS", "5")),
        # A job handed to Redis that no live worker runs (no heartbeat this long) and that
        # Redis no longer holds is handed over again (tenants.jobs.lease.reap).
        "JOB_LOST_AFTER_SECONDS": float(os.environ.get("JOB_LOST_AFTER_SECONDS", "60")),
        "JOB_HEARTBEAT_SECONDS": float(os.environ.get("JOB_HEARTBEAT_SECONDS", "10")),
        # `flask jobs health`: a part of the worker silent this long is down.
        "JOB_HEALTH_SECONDS": float(os.environ.get("JOB_HEALTH_SECONDS", "30")),
        "SMS_GATEWAY": os.environ.get("SMS_GATEWAY", "log"),
        "SMS_GATEWAY_URL": os.environ.get("SMS_GATEWAY_URL") or None,
        "SMS_GATEWAY_TOKEN": os.environ.get("SMS_GATEWAY_TOKEN") or None,
        # SMS_GATEWAY=smpp: the SMSC (SMPP 3.4) the workers submit to, and whose delivery
        # receipts and replies `flask messaging smpp-receiver` receives.
        "SMPP_HOST": os.environ.get("SMPP_HOST") or None,
        "SMPP_PORT": int(os.environ.get("SMPP_PORT", "2775")),
        "SMPP_SYSTEM_ID": os.environ.get("SMPP_SYSTEM_ID") or "",
        "SMPP_PASSWORD": os.environ.get("SMPP_PASSWORD") or "",
        "SMPP_SYSTEM_TYPE": os.environ.get("SMPP_SYSTEM_TYPE") or "",
        # The sender when a message names none (Settings → sender name, else this).
        "SMPP_DEFAULT_SENDER": os.environ.get("SMPP_DEFAULT_SENDER") or "SMS",
        "SMPP_TIMEOUT_SECONDS": float(os.environ.get("SMPP_TIMEOUT_SECONDS", "10")),
        # Send SMS (tenants.messaging.pipeline): recipients handed to the gateway per job, and
        # the gateway's rate in messages a second.
        "MESSAGE_BATCH_SIZE": int(os.environ.get("MESSAGE_BATCH_SIZE", "100")),
        "MESSAGE_GATEWAY_RATE": float(os.environ.get("MESSAGE_GATEWAY_RATE", "50")),
        # The HTTP gateway signs its delivery reports with it (HMAC-SHA256 of the body).
        "DELIVERY_REPORT_SECRET": os.environ.get("DELIVERY_REPORT_SECRET") or None,
        "AUTO_TOP_UP_MONTHLY_CAP": int(os.environ.get("AUTO_TOP_UP_MONTHLY_CAP", "10")),
        # The monthly invoice run (tenants.billing.monthly_run): database connections that
        # prepare its batches side by side on PostgreSQL (1: one batch after the other).
        "BILLING_RUN_CONNECTIONS": max(1, int(os.environ.get("BILLING_RUN_CONNECTIONS", "2"))),
        # A purchase left unpaid this long can no longer be paid; the hourly job marks it
        # expired (tenants.credits.purchases.expire_pending_purchases).
        "PURCHASE_PENDING_MAX_MINUTES": int(
            os.environ.get("PURCHASE_PENDING_MAX_MINUTES", str(24 * 60))
        ),
    }


def _mail_settings(instance_path: Path) -> dict:
    mail_server = os.environ.get("MAIL_SERVER", "").strip()
    return {
        "MAIL_SERVER": mail_server or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_USE_TLS": _bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _bool("MAIL_USE_SSL"),
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "portal@localhost"),
        "OUTBOX_DIR": os.environ.get("OUTBOX_DIR") or str(instance_path / "outbox"),
        "PORTAL_URL": os.environ.get("PORTAL_URL", "http://127.0.0.1:5000").rstrip("/"),
    }


def _web_settings() -> dict:
    """Languages, cookies, sessions, logins and the API's rate limit."""
    return {
        "BABEL_DEFAULT_LOCALE": "en",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parents[2] / "translations"),
        "LANGUAGES": LANGUAGES,
        "BOOTSTRAP_SERVE_LOCAL": True,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": _bool("SESSION_COOKIE_SECURE"),
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "LOGIN_MAX_FAILURES": int(os.environ.get("LOGIN_MAX_FAILURES", "5")),
        "LOGIN_FAILURE_WINDOW_MINUTES": int(os.environ.get("LOGIN_FAILURE_WINDOW_MINUTES", "15")),
        "PASSWORD_RESET_MAX_AGE": int(os.environ.get("PASSWORD_RESET_MAX_AGE", "3600")),
        "INVITATION_MAX_AGE": int(os.environ.get("INVITATION_MAX_AGE", str(7 * 24 * 3600))),
        "WTF_CSRF_TIME_LIMIT": None,
        "PASSWORD_HASH_METHOD": os.environ.get("PASSWORD_HASH_METHOD", "scrypt"),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
        # Requests per API key (a `limits` string: 6000/minute, 100 per 30 seconds; empty:
        # no limit), counted in a moving window in Redis (in memory without REDIS_URL).
        "API_RATE_LIMIT": os.environ.get("API_RATE_LIMIT", "6000/minute"),
        # Login-as (support sessions): how long one lasts, and how recent the staff
        # member's last password or two-factor check must be to start one.
        "LOGIN_AS_MINUTES": int(os.environ.get("LOGIN_AS_MINUTES", "30")),
        "LOGIN_AS_REAUTH_MINUTES": int(os.environ.get("LOGIN_AS_REAUTH_MINUTES", "15")),
    }


def load_config(instance_path: Path) -> dict:
    load_dotenv(override=False)
    instance_path.mkdir(parents=True, exist_ok=True)
    return (
        {"SECRET_KEY": secret_key(instance_path)}
        | _database_settings(instance_path)
        | _job_settings()
        | _mail_settings(instance_path)
        | _web_settings()
    )
