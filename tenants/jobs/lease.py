"""A job's lease on its outbox row: the row is the job's owner until the job is done.

A run claims its row (``claim``: nobody else runs it, it is not done), heartbeats it while
it runs (``running``) and marks it finished in the transaction that commits the job's
effects (``finish``): a job whose mark was lost did not commit its effects either. The
reaper (``reap``) hands over again the rows that were handed to Redis but lost there: not
done, handed over more than JOB_LOST_AFTER_SECONDS ago, no fresh heartbeat (no live worker
runs them), and neither in the queue nor scheduled for a retry in Redis (Redis restarted
empty, was flushed, lost its queue; a worker was killed mid-job).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import QueuedJob

log = logging.getLogger(__name__)

REAP_BATCH = 500


def lost_after() -> timedelta:
    return timedelta(seconds=float(current_app.config.get("JOB_LOST_AFTER_SECONDS", 60)))


def claim(job_id: str) -> bool:
    """Mark the row as run by this process now; False if it is done, gave up, is not due
    yet (``run_at``), or another live worker runs it. Committed at once, before the job's
    own transaction."""
    now = utcnow()
    result = db.session.execute(
        update(QueuedJob)
        .where(
            QueuedJob.id == job_id,
            QueuedJob.finished_at.is_(None),
            QueuedJob.failed_at.is_(None),
            or_(QueuedJob.heartbeat_at.is_(None), QueuedJob.heartbeat_at < now - lost_after()),
            or_(QueuedJob.run_at.is_(None), QueuedJob.run_at <= now),  # never before its time
        )
        .values(started_at=now, heartbeat_at=now, attempts=QueuedJob.attempts + 1)
    )
    db.session.commit()
    return result.rowcount == 1


def finish(job_id: str) -> bool:
    """Mark the row finished in the job's own transaction; False when another run finished
    it first (the caller then rolls its effects back)."""
    result = db.session.execute(
        update(QueuedJob)
        .where(QueuedJob.id == job_id, QueuedJob.finished_at.is_(None))
        .values(finished_at=utcnow(), heartbeat_at=None)
    )
    return result.rowcount == 1


@contextmanager
def running(job_id: str) -> Iterator[None]:
    """Heartbeat the row every JOB_HEARTBEAT_SECONDS while the block runs (in a worker;
    in-process runs end with their request)."""
    if not current_app.config.get("REDIS_URL"):
        yield
        return
    every = float(current_app.config.get("JOB_HEARTBEAT_SECONDS", 10))
    engine, stopped = db.engine, threading.Event()

    def beat() -> None:
        while not stopped.wait(every):
            try:
                with engine.begin() as connection:
                    connection.execute(
                        update(QueuedJob.__table__)
                        .where(QueuedJob.id == job_id, QueuedJob.finished_at.is_(None))
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # the database is away: the next beat tries again
                log.warning("could not heartbeat job %s", job_id)

    thread = threading.Thread(target=beat, name=f"heartbeat-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=every)


def lost_jobs(limit: int = REAP_BATCH) -> list[str]:
    """Rows handed over long ago that no live worker runs and Redis does not hold."""
    cutoff = utcnow() - lost_after()
    candidates = list(
        db.session.scalars(
            select(QueuedJob.id)
            .where(
                QueuedJob.finished_at.is_(None),
                QueuedJob.failed_at.is_(None),
                QueuedJob.dispatched_at < cutoff,
                or_(QueuedJob.heartbeat_at.is_(None), QueuedJob.heartbeat_at < cutoff),
            )
            .order_by(QueuedJob.dispatched_at)
            .limit(limit)
        )
    )
    if not candidates:
        return []
    waiting = _waiting_in_redis()
    return [job_id for job_id in candidates if job_id not in waiting]


def _waiting_in_redis() -> set[str]:
    """Job ids in the queue or scheduled for a retry (raises when Redis is away)."""
    from redis import Redis
    from rq import Queue
    from rq.registry import ScheduledJobRegistry

    url = current_app.config["REDIS_URL"]
    connection = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10)
    try:
        queue = Queue(current_app.config["RQ_QUEUE"], connection=connection)
        ids = connection.lrange(queue.key, 0, -1)
        ids += connection.zrange(ScheduledJobRegistry(queue=queue).key, 0, -1)
    finally:
        connection.close()
    return {raw.decode() for raw in ids}


def reap() -> int:
    """Put the lost rows back in the outbox (the relay hands them over); how many."""
    if not current_app.config.get("REDIS_URL"):
        return 0
    lost = lost_jobs()
    if lost:
        db.session.execute(
            update(QueuedJob)
            .where(QueuedJob.id.in_(lost), QueuedJob.finished_at.is_(None))
            .values(dispatched_at=None, started_at=None, heartbeat_at=None)
        )
        db.session.commit()
        log.warning("%d job(s) handed over were lost in Redis; handing them over again", len(lost))
    return len(lost)


def oldest_incomplete_age() -> timedelta | None:
    """How long the oldest job neither done nor given up has waited (None: there is none)."""
    oldest = db.session.scalar(
        select(QueuedJob.created_at)
        .where(QueuedJob.finished_at.is_(None), QueuedJob.failed_at.is_(None))
        .order_by(QueuedJob.created_at)
        .limit(1)
    )
    return None if oldest is None else utcnow() - oldest
