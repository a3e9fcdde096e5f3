"""Handing jobs over after commit: to RQ when REDIS_URL is set, else run in-process.

Services call ``enqueue``; it writes a QueuedJob row in the current transaction, so a job
exists exactly when the change that asked for it was committed. ``commit`` then hands the
new rows over. A row that could not be handed over (Redis down) stays pending for the relay.

A request never waits long on Redis: its client has short connect and read timeouts
(REDIS_TIMEOUT_SECONDS), and after a failed hand-over the process leaves new jobs to the
relay for REDIS_RETRY_SECONDS instead of paying that timeout again on every request.
"""

from __future__ import annotations

import logging
import time
import traceback
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import or_, select

from tenants.core.config import redis_client_options
from tenants.core.extensions import db
from tenants.core.mail import message_ids_for
from tenants.core.types import utcnow
from tenants.jobs.lease import claim, finish, running
from tenants.jobs.registry import JOBS
from tenants.models import QueuedJob

log = logging.getLogger(__name__)

_PENDING_KEY = "queued_job_ids"
_LATER_KEY = "queued_job_run_at"


def enqueue(name: str, **kwargs: Any) -> QueuedJob:
    """Record the job ``name`` in the current transaction (KeyError for an unknown name)."""
    return _record(name, None, kwargs)


def enqueue_at(run_at: datetime, name: str, **kwargs: Any) -> QueuedJob:
    """Record the job ``name`` to run not before ``run_at`` (a campaign run): with Redis it is
    handed to RQ's scheduler (``enqueue_at``), which queues it when the time comes; without
    Redis it waits in the outbox until a relay (``flask jobs relay``) finds it due."""
    if run_at.microsecond:  # RQ's scheduler keeps whole seconds: never a moment early
        run_at = run_at.replace(microsecond=0) + timedelta(seconds=1)
    return _record(name, run_at, kwargs)


def _record(name: str, run_at: datetime | None, kwargs: dict[str, Any]) -> QueuedJob:
    if name not in JOBS:
        raise KeyError(f"unknown job {name}")
    job = QueuedJob(name=name, kwargs=kwargs, run_at=run_at)
    db.session.add(job)
    db.session.flush()
    db.session.info.setdefault(_PENDING_KEY, []).append(job.id)
    if run_at is not None:
        db.session.info.setdefault(_LATER_KEY, {})[job.id] = run_at
    return job


def commit() -> None:
    """Commit the unit of work, then hand over the jobs it recorded."""
    db.session.commit()
    job_ids = db.session.info.pop(_PENDING_KEY, [])
    later = db.session.info.pop(_LATER_KEY, {})
    if job_ids:
        dispatch(job_ids, run_at=later)


def rollback() -> None:
    db.session.rollback()
    db.session.info.pop(_PENDING_KEY, None)
    db.session.info.pop(_LATER_KEY, None)


def redis_connection():
    """The app's Redis client for REDIS_URL, one per process: its pool keeps connections
    open between requests (a new client per call cost a TCP connect on every API request).
    Short timeouts (REDIS_TIMEOUT_SECONDS): a hung Redis fails fast instead of holding the
    request. redis-py's pool notices a fork and opens fresh connections in the child."""
    from redis import Redis

    url = current_app.config["REDIS_URL"]
    clients = current_app.extensions.setdefault("portal_redis", {})
    client = clients.get(url)
    if client is None:
        client = clients[url] = Redis.from_url(url, **redis_client_options(current_app.config))
    return client


def worker_redis_connection():
    """A client of its own for an RQ worker: RQ raises its read timeout above its blocking
    dequeue's (minutes), which the requests' client must never inherit."""
    from redis import Redis

    return Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2)


def rq_queue(connection=None):
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=connection or redis_connection())


def retry_policy():
    """Transient failures (SMTP or gateway down) are retried with growing pauses."""
    from rq import Retry

    intervals = current_app.config.get("JOB_RETRY_INTERVALS") or [10, 60, 300, 1800]
    return Retry(max=len(intervals), interval=intervals)


def _redis_resting(url: str) -> bool:
    """Whether a hand-over to ``url`` failed less than REDIS_RETRY_SECONDS ago."""
    resting = current_app.extensions.get("portal_redis_resting", {})
    return time.monotonic() < resting.get(url, 0.0)


def _note_redis(url: str, failed: bool) -> None:
    resting = current_app.extensions.setdefault("portal_redis_resting", {})
    if failed:
        resting[url] = time.monotonic() + float(current_app.config.get("REDIS_RETRY_SECONDS", 5))
    else:
        resting.pop(url, None)


def _run_at_of(job_ids: list[str]) -> dict[str, datetime]:
    """The rows' ``run_at`` (those that have one)."""
    rows = db.session.execute(
        select(QueuedJob.id, QueuedJob.run_at).where(
            QueuedJob.id.in_(job_ids), QueuedJob.run_at.is_not(None)
        )
    )
    return {job_id: run_at for job_id, run_at in rows.all()}  # noqa: C416


def dispatch(
    job_ids: list[str], *, relaying: bool = False, run_at: dict[str, datetime] | None = None
) -> None:
    """Hand the rows over to RQ (run them in-process without REDIS_URL). Rows Redis did not
    take stay pending; so do new ones shortly after a failure, unless the relay asks.
    ``run_at``: the rows to run later (enqueue_at), by id; the relay reads them itself. In
    process, a row not yet due stays pending."""
    later = _run_at_of(job_ids) if relaying else (run_at or {})
    now = utcnow()
    url = current_app.config.get("REDIS_URL")
    if not url:
        for job_id in job_ids:
            if job_id not in later or later[job_id] <= now:
                run_queued_job(job_id)
        return
    if not relaying and _redis_resting(url):
        return  # Redis failed moments ago: the relay hands these rows over
    try:
        queue = rq_queue()
        for job_id in job_ids:
            if job_id in later and later[job_id] > now:
                # RQ's scheduler (a part of every `flask jobs worker`) queues it in time.
                queue.enqueue_at(
                    later[job_id], run_queued_job, job_id, job_id=job_id, retry=retry_policy()
                )
            else:
                queue.enqueue(run_queued_job, job_id, job_id=job_id, retry=retry_policy())
            db.session.execute(
                QueuedJob.__table__.update()
                .where(QueuedJob.id == job_id)
                .values(dispatched_at=utcnow())
            )
        db.session.commit()
    except Exception:  # Redis unreachable or hung: the relay hands the rows over later.
        db.session.rollback()
        _note_redis(url, failed=True)
        log.warning("could not hand %d job(s) to Redis; left for the relay", len(job_ids))
        return
    _note_redis(url, failed=False)


def run_queued_job(job_id: str) -> None:
    """Run one recorded job once (inside an app context: the worker pushes one for each job).

    The row is claimed first (a finished job, or one another live worker runs, is left
    alone); the job's effects and its finished mark commit in one transaction, so a job
    whose mark was lost changed nothing and runs again. Its emails carry Message-IDs made
    from the job's id, the same on every run. A failure is recorded; with no retry left
    the row is failed (the platform's failed jobs page lists it, and can retry it)."""
    if not claim(job_id):
        return
    job = db.session.get(QueuedJob, job_id)
    try:
        with running(job_id), message_ids_for(job_id):
            JOBS[job.name](**job.kwargs)
            if not finish(job_id):  # another run finished it meanwhile
                rollback()
                return
            commit()  # and hand over the jobs this one asked for (e.g. a failure notice)
    except Exception:
        rollback()  # also forgets the jobs this one asked for
        _record_failure(job_id, traceback.format_exc()[-4000:])
        if current_app.config.get("REDIS_URL"):
            raise
        log.exception("in-process job %s (%s) failed", job_id, job.name)


def _record_failure(job_id: str, error: str) -> None:
    """The error, and ``failed_at`` unless RQ retries the job (an RQ retry left)."""
    from rq import get_current_job

    rq_job = get_current_job() if current_app.config.get("REDIS_URL") else None
    retrying = bool(rq_job is not None and rq_job.retries_left)
    db.session.execute(
        QueuedJob.__table__.update()
        .where(QueuedJob.id == job_id)
        .values(
            last_error=error,
            started_at=None,
            heartbeat_at=None,
            failed_at=None if retrying else utcnow(),
        )
    )
    db.session.commit()


def pending_jobs(limit: int = 500) -> list[str]:
    return list(
        db.session.scalars(
            select(QueuedJob.id)
            .where(
                QueuedJob.finished_at.is_(None),
                QueuedJob.failed_at.is_(None),
                QueuedJob.dispatched_at.is_(None),
                # A later job (enqueue_at) that never reached Redis is relayed when it is due.
                or_(QueuedJob.run_at.is_(None), QueuedJob.run_at <= utcnow()),
            )
            .order_by(QueuedJob.created_at)
            .limit(limit)
        )
    )
