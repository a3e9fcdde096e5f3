"""Fixtures for background jobs: real Redis (a queue of its own per test), RQ workers in
process and in a subprocess, a priced prepaid organization with alerts and top-up settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import Flask
from redis import Redis

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, rq_queue, worker_redis_connection
from tenants.jobs.worker import PortalWorker
from tenants.models import QueuedJob, ResellerRole
from tests.conftest import free_port, new_reference, owner_of

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def dead_redis_url() -> str:
    """A Redis URL where nothing listens: every connection is refused at once."""
    return f"redis://127.0.0.1:{free_port()}/0"


class HungRedis:
    """A TCP listener on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.listener.settimeout(0.05)
        self.accepted: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, name="hung-redis", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.listener.getsockname()[1]}/0"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)  # held open, never read, never answered

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        for connection in self.accepted:
            connection.close()
        self.listener.close()


@pytest.fixture
def hung_redis():
    server = HungRedis()
    yield server
    server.close()


@pytest.fixture
def app(app: Flask) -> Flask:
    app.config["SMS_GATEWAY"] = "log"
    return app


@pytest.fixture
def redis(app):
    """Real Redis for this test: its own RQ queue name, its keys removed afterwards.

    (A queue per test instead of FLUSHDB keeps parallel xdist workers apart.)
    """
    connection = Redis.from_url(REDIS_URL)
    connection.ping()
    queue = f"test-{uuid.uuid4().hex[:10]}"
    app.config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=queue, JOB_RETRY_INTERVALS=[0])
    yield connection
    keys = list(connection.scan_iter(f"*{queue}*"))
    job_ids = [row for (row,) in db.session.execute(db.select(QueuedJob.id)).all()]
    keys += [f"rq:job:{job_id}" for job_id in job_ids]
    keys += [f"rq:results:{job_id}" for job_id in job_ids]
    if keys:
        connection.delete(*keys)
    connection.close()


def burst_worker(app: Flask) -> None:
    """A real RQ worker in this process, on the test's app: runs what is queued, then stops.

    Like ``flask jobs worker``, it runs each job in a fresh app context, so with a database
    session of its own: the test's session first ends its transaction (on SQLite an open one
    holds the write lock the jobs need), committing what the test has not committed yet.
    """
    db.session.commit()
    connection = worker_redis_connection()
    try:
        PortalWorker([rq_queue(connection)], connection=connection, app=app).work(
            burst=True, logging_level="WARNING"
        )
    finally:
        connection.close()


def worker_env(app: Flask) -> dict[str, str]:
    """The environment of a ``flask jobs`` subprocess configured like the test app."""
    config = app.config
    return {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"] or "",
        "RQ_QUEUE": config["RQ_QUEUE"],
        "MAIL_SERVER": config["MAIL_SERVER"] or "",
        "MAIL_PORT": str(config["MAIL_PORT"]),
        "SECRET_KEY": config["SECRET_KEY"],
        "PASSWORD_HASH_METHOD": config["PASSWORD_HASH_METHOD"],
        "PORTAL_URL": config["PORTAL_URL"],
        "OUTBOX_DIR": config["OUTBOX_DIR"],
        "JOB_RETRY_INTERVALS": ",".join(str(i) for i in config["JOB_RETRY_INTERVALS"]),
        "SMS_GATEWAY": config["SMS_GATEWAY"],
        "WORKER_MAX_JOBS": str(config["WORKER_MAX_JOBS"]),
        "WORKER_MAX_RSS_MB": str(config["WORKER_MAX_RSS_MB"]),
    }


def worker_process(app: Flask, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    """``flask --app app jobs worker --burst`` in a subprocess, configured like the test app."""
    env = worker_env(app)
    db.session.remove()  # nothing of this process holds the database meanwhile
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "jobs", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def outbox(app: Flask, address: str | None = None) -> list[EmailMessage]:
    """The emails written to the file outbox (no MAIL_SERVER), oldest first; to ``address``
    only when given."""
    messages = [
        message_from_bytes(path.read_bytes(), policy=policy.default)
        for path in sorted(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    ]
    return [m for m in messages if address is None or m["To"] == address]


def use(org, amount: int, account=None) -> None:
    credits.record_usage(SYSTEM, org, credits=amount, reference=new_reference(), account=account)
    commit()


@pytest.fixture
def shop(create_priced_reseller, create_reseller_staff, create_organization):
    """A reseller (€0.05 a credit, 21 % tax in Spain) with an admin; a prepaid organization in
    Spain with alert settings."""
    reseller = create_priced_reseller(name="Alert Telecom", prepaid="0.05")
    admin = create_reseller_staff(
        reseller, ResellerRole.ADMIN, name="Rita Reseller", email="rita@reseller.example"
    )
    org = create_organization(reseller, name="Acme", country="ES", owner_email="owner@acme.example")
    org.billing_email = "billing@acme.example"
    org.low_balance_alert = True
    org.low_balance_threshold = 100
    org.alert_email = "alerts@acme.example"
    org.notification_mobile = "+34600000001"
    commit()
    return SimpleNamespace(reseller=reseller, admin=admin, org=org, owner=owner_of(org))
