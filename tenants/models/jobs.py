"""The job outbox: a job is recorded in the same transaction as the change that asks for it.

A row is the job's owner until the job is done: ``finished_at`` (it succeeded, committed with
its effects) or ``failed_at`` (it gave up: listed on the platform's failed jobs page, where it
can be retried). ``started_at``/``heartbeat_at`` say that a worker runs it now; a row handed
over long ago that nobody runs and Redis no longer holds is handed over again (the reaper).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow


class QueuedJob(db.Model):
    __tablename__ = "queued_jobs"
    __table_args__ = (Index("ix_queued_jobs_pending", "finished_at", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("job"))
    name: Mapped[str] = mapped_column(String(64))
    kwargs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Not before this time (a campaign run): handed to RQ's scheduler (enqueue_at), never
    # run earlier. None: at once.
    run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class JobRunnerBeat(db.Model):
    """A part of a running ``flask jobs worker`` (worker, scheduler, relay) says it is alive:
    kept in the database, so ``flask jobs health`` answers through a Redis outage."""

    __tablename__ = "job_runner_beats"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)  # part:host:pid
    part: Mapped[str] = mapped_column(String(20), index=True)
    host: Mapped[str] = mapped_column(String(120))
    pid: Mapped[int] = mapped_column()
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
