"""Jobs survive their brokers (SPEC §10.3, exactly once): a private ``redis-server`` killed
with SIGKILL and started empty, a ``flask jobs worker`` killed mid-job, a Redis outage while
a job runs. Every job is delivered once, and the worker's parts keep running by themselves.
"""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from redis import Redis
from rq import Queue

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import run_queued_job
from tenants.models import QueuedJob, Reseller
from tests.conftest import SMTPRecorder, free_port
from tests.faults.servers import (
    ROOT,
    RedisServer,
    SmtpGate,
    WorkerProcess,
    fast_worker_env,
    wait_until,
)
from tests.jobs.conftest import worker_env

QUEUE = "portal-faults"


@pytest.fixture
def private_redis(app):
    server = RedisServer()
    app.config.update(REDIS_URL=server.url, RQ_QUEUE=QUEUE, JOB_RETRY_INTERVALS=[0])
    yield server
    server.stop()


@pytest.fixture
def workers(app, tmp_path):
    """Start ``flask jobs worker`` subprocesses configured like the app; all stopped after."""
    started: list[WorkerProcess] = []

    def start(**settings: str) -> WorkerProcess:
        db.session.remove()
        log = tmp_path / f"worker-{len(started)}.log"
        env = {**fast_worker_env(worker_env(app)), **settings}
        started.append(WorkerProcess(env, log))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def smtp(app):
    """A real SMTP server behind a gate the test opens; the app sends through the gate."""
    recorder = SMTPRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    gate = SmtpGate(controller.port)
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=gate.port)
    yield gate, recorder
    gate.stop()
    controller.stop()


def _unfinished(name: str | None = None) -> int:
    """Jobs not finished (named ``name``, or all)."""
    db.session.remove()  # a fresh look; and no lock held on SQLite while the worker writes
    query = sa.select(sa.func.count()).select_from(QueuedJob).where(QueuedJob.finished_at.is_(None))
    if name is not None:
        query = query.where(QueuedJob.name == name)
    count = db.session.scalar(query)
    db.session.remove()
    return count


def _outbox_recipients(app) -> list[str]:
    folder = Path(app.config["OUTBOX_DIR"])
    return sorted(email.message_from_bytes(eml.read_bytes())["To"] for eml in folder.glob("*.eml"))


def _organizations(create_reseller, create_organization, prefix: str, count: int) -> list[str]:
    reseller = create_reseller()
    owners = [f"{prefix}{i}@faults.example" for i in range(count)]
    for owner in owners:
        create_organization(reseller, owner_email=owner)
    return owners


def _health(app) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "jobs", "health"],
        cwd=ROOT,
        env=fast_worker_env(worker_env(app)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_jobs_handed_over_survive_redis_restarted_empty_and_run_once(
    app, private_redis, workers, create_reseller, create_organization
):
    owners = _organizations(create_reseller, create_organization, "restart", 6)
    rows = db.session.scalars(sa.select(QueuedJob)).all()
    assert len(rows) == len(owners) and all(row.dispatched_at for row in rows)
    assert Redis.from_url(private_redis.url).llen(f"rq:queue:{QUEUE}") == len(owners)

    private_redis.kill()  # SIGKILL, no persistence: the queue is gone
    private_redis.start()
    worker = workers()
    assert wait_until(lambda: _unfinished() == 0, timeout=45), worker.output()
    assert _outbox_recipients(app) == sorted(owners)  # each one, once
    assert worker.alive()


def test_a_worker_killed_mid_job_and_started_again_loses_and_doubles_nothing(
    app, private_redis, workers, smtp, create_reseller, create_organization
):
    gate, recorder = smtp
    owners = _organizations(create_reseller, create_organization, "killed", 3)
    first = workers()
    # Mid-send (the database is not read now: on SQLite the job's transaction holds it).
    assert wait_until(lambda: gate.waiting == 1, timeout=30), first.output()

    first.kill()  # SIGKILL mid-job
    gate.open()
    second = workers()
    assert wait_until(lambda: _unfinished() == 0, timeout=45), second.output()
    assert sorted(m["To"] for m in recorder.messages) == sorted(owners)
    attempts = list(db.session.scalars(sa.select(QueuedJob.attempts)))
    assert sorted(attempts)[-2:] == [1, 2]  # the killed job ran again, once; the rest once


def test_a_redis_outage_during_a_job_leaves_the_worker_scheduler_and_relay_running(
    app, private_redis, workers, smtp, create_reseller, create_organization
):
    gate, recorder = smtp
    reseller = create_reseller()
    reseller_id = reseller.id
    # The reaper waits long here: on SQLite the job's own transaction holds the database,
    # so the job's heartbeat waits too. This test is about the parts staying alive.
    worker = workers(JOB_LOST_AFTER_SECONDS="30")
    create_organization(reseller, owner_email="during@faults.example")
    assert wait_until(lambda: gate.waiting == 1, timeout=30), worker.output()  # mid-job

    private_redis.kill()  # the job ends while Redis is away: RQ's bookkeeping fails
    gate.open()
    assert wait_until(lambda: _unfinished("send_invitation") == 0, timeout=20), worker.output()
    wait_until(lambda: not worker.alive(), timeout=3)
    private_redis.start()  # back, empty
    assert worker.alive(), worker.output()

    # After the outage: a job only the relay hands over (recorded while this process
    # could not reach Redis), and one only the scheduler moves into the queue.
    url = private_redis.url
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    reseller = db.session.get(Reseller, reseller_id)
    create_organization(reseller, owner_email="relayed@faults.example")
    create_organization(reseller, owner_email="scheduled@faults.example")
    app.config["REDIS_URL"] = url
    scheduled = db.session.scalars(sa.select(QueuedJob).order_by(QueuedJob.created_at)).all()[-1]
    scheduled.dispatched_at = utcnow()
    db.session.commit()
    Queue(QUEUE, connection=Redis.from_url(url)).enqueue_in(
        timedelta(seconds=1), run_queued_job, scheduled.id, job_id=scheduled.id
    )
    db.session.remove()

    assert wait_until(lambda: _unfinished("send_invitation") == 0, timeout=40), worker.output()
    assert sorted(m["To"] for m in recorder.messages) == sorted(
        ["during@faults.example", "relayed@faults.example", "scheduled@faults.example"]
    )
    assert worker.alive(), worker.output()
    health = _health(app)
    assert health.returncode == 0, health.stdout + health.stderr
    assert "worker: alive" in health.stdout and "scheduler: alive" in health.stdout
    # An outage is logged once per part, not once per retry.
    assert worker.output().count("retrying until it is back") <= 4, worker.output()
