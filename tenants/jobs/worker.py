"""The job runner: an RQ worker with its scheduler, the outbox relay, and the hourly schedule.

``flask jobs worker`` runs an RQ worker on RQ_QUEUE. Beside it a thread, every
JOB_RELAY_SECONDS, hands QueuedJob rows that never reached Redis (it was down when their
transaction committed) over to RQ, and once an hour asks for the monthly invoice run and the
expiry of unpaid purchases — each is idempotent (one invoice per organization and period, a
purchase expired once), so every worker may ask; a Redis key per job and hour keeps it to one
request an hour across workers anyway.

The worker runs jobs in its own process (``SimpleWorker``): the relay thread and SQLAlchemy's
connection pool are then never copied into a forked child. The app is created once, when the
command starts; each job runs in a fresh app context of it (``PortalWorker``). Run more worker
processes to run more jobs at once.
"""

from __future__ import annotations

import logging
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select, update

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import (
    commit,
    dispatch,
    enqueue,
    pending_jobs,
    redis_connection,
    rq_queue,
    worker_redis_connection,
)
from tenants.jobs.registry import JOBS
from tenants.models import QueuedJob

log = logging.getLogger(__name__)

MONTHLY_INVOICES_JOB = "run_monthly_invoices"
EXPIRE_PURCHASES_JOB = "expire_pending_purchases"
HOURLY_JOBS = (MONTHLY_INVOICES_JOB, EXPIRE_PURCHASES_JOB)
SCHEDULE_SECONDS = 3600


# -- relay: the outbox rows Redis has not seen yet ----------------------------------------


def relay() -> int:
    """Hand every pending job over to RQ (or run it, without Redis); how many were handed."""
    handed = 0
    while True:
        batch = pending_jobs()
        if not batch:
            return handed
        dispatch(batch, relaying=True)
        still = set(pending_jobs(limit=len(batch) + 1)) & set(batch)
        handed += len(batch) - len(still)
        if still:  # Redis is down again: try on the next round
            return handed


# -- schedule ----------------------------------------------------------------------------


def schedule_job(name: str, force: bool = False) -> bool:
    """Ask for the job ``name`` once this hour across workers; True if asked."""
    if name not in JOBS:
        log.warning("no %s job registered yet; nothing scheduled", name)
        return False
    if current_app.config.get("REDIS_URL") and not force:
        key = f"portal:schedule:{name}:{utcnow():%Y%m%d%H}"
        if not redis_connection().set(key, "1", nx=True, ex=2 * SCHEDULE_SECONDS):
            return False
    enqueue(name)
    commit()
    return True


def schedule_monthly_invoices(force: bool = False) -> bool:
    """Ask for the monthly invoice run (and its catch-up) once this hour; True if asked."""
    return schedule_job(MONTHLY_INVOICES_JOB, force)


def schedule_hourly_jobs() -> None:
    """Everything the schedule asks for each hour (each job is idempotent)."""
    for name in HOURLY_JOBS:
        schedule_job(name)


class Housekeeper(threading.Thread):
    """Relays the outbox every few seconds and asks for the schedule every hour."""

    def __init__(self, app: Flask, interval: float):
        super().__init__(name="portal-relay", daemon=True)
        self.app, self.interval = app, interval
        self.stopped = threading.Event()
        self.next_schedule = 0.0

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.app.app_context():
                try:
                    if relay():
                        log.info("relay handed pending jobs over to Redis")
                    if time.monotonic() >= self.next_schedule:
                        schedule_hourly_jobs()
                        self.next_schedule = time.monotonic() + SCHEDULE_SECONDS
                except Exception:  # a database or Redis hiccup: try again next round
                    log.exception("relay round failed")
                finally:
                    db.session.remove()


class PortalWorker(SimpleWorker):
    """An RQ worker for one app: each job runs in a fresh app context of it, so it has the
    app's configuration and a database session of its own, removed when the job ends."""

    def __init__(self, *args, app: Flask | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.app = app  # None only where RQ itself makes one (e.g. listing workers)

    def execute_job(self, job, queue):
        app = self.app or current_app._get_current_object()
        with app.app_context():
            return super().execute_job(job, queue)


# -- failed jobs (the platform admin's page) -----------------------------------------------


def failed_jobs(limit: int = 200) -> list[dict]:
    """Jobs that gave up: RQ's failed registry and outbox rows with an error, newest first."""
    rows: dict[str, dict] = {}
    if current_app.config.get("REDIS_URL"):
        try:
            registry = FailedJobRegistry(queue=rq_queue())
            ids = registry.get_job_ids(0, limit - 1)
            for rq_job in registry.job_class.fetch_many(ids, connection=registry.connection):
                if rq_job is None:
                    continue
                rows[rq_job.id] = {
                    "id": rq_job.id,
                    "name": None,
                    "in_rq": True,
                    "failed_at": rq_job.ended_at,
                    "error": (rq_job.exc_info or "").strip().splitlines()[-1:] or [""],
                    "attempts": None,
                }
        except Exception:  # Redis down: the outbox rows still show
            log.warning("could not read RQ's failed job registry")
    queued = db.session.scalars(
        select(QueuedJob)
        .where(QueuedJob.finished_at.is_(None), QueuedJob.last_error.is_not(None))
        .order_by(QueuedJob.created_at.desc())
        .limit(limit)
    ).all()
    by_id = {job.id: job for job in queued}
    for job_id in [jid for jid in rows if jid not in by_id]:
        found = db.session.get(QueuedJob, job_id)
        if found is not None:
            by_id[job_id] = found
    for job_id, job in by_id.items():
        row = rows.setdefault(
            job_id, {"id": job_id, "in_rq": False, "failed_at": None, "error": [""]}
        )
        row["name"] = job.name
        row["attempts"] = job.attempts
        row["created_at"] = job.created_at
        if job.last_error:
            row["error"] = job.last_error.strip().splitlines()[-1:]
        row["finished"] = job.finished_at is not None
    listed = [r for r in rows.values() if not r.get("finished")]
    return sorted(listed, key=lambda r: r.get("created_at") or utcnow(), reverse=True)


def retry_job(job_id: str) -> bool:
    """Run a failed job again: requeued in RQ if it is there, else handed over afresh."""
    job = db.session.get(QueuedJob, job_id)
    if job is None or job.finished_at is not None:
        return False
    if current_app.config.get("REDIS_URL"):
        try:
            registry = FailedJobRegistry(queue=rq_queue())
            if job_id in registry.get_job_ids():
                registry.requeue(job_id)
                return True
        except Exception:
            log.warning("could not requeue %s in RQ; handing it over afresh", job_id)
    db.session.execute(update(QueuedJob).where(QueuedJob.id == job_id).values(dispatched_at=None))
    commit()
    dispatch([job_id])
    return True


# -- commands ------------------------------------------------------------------------------

jobs_cli = AppGroup("jobs", help="Background jobs: the RQ worker and the outbox relay.")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop.")
@click.option("--no-scheduler", is_flag=True, help="Do not run RQ's scheduler in this worker.")
def worker_command(burst: bool, no_scheduler: bool) -> None:
    """Run an RQ worker with the scheduler and the outbox relay."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("Set REDIS_URL: without Redis, jobs run in-process.")
    handed = relay()
    click.echo(f"Relay: {handed} pending job(s) handed over.")
    housekeeper = None
    if not burst:
        schedule_hourly_jobs()
        housekeeper = Housekeeper(app, app.config["JOB_RELAY_SECONDS"])
        housekeeper.next_schedule = time.monotonic() + SCHEDULE_SECONDS
        housekeeper.start()
    db.session.remove()
    connection = worker_redis_connection()
    worker = PortalWorker([rq_queue(connection)], connection=connection, app=app)
    try:
        worker.work(burst=burst, with_scheduler=not no_scheduler and not burst)
    finally:
        if housekeeper is not None:
            housekeeper.stopped.set()


@jobs_cli.command("relay")
def relay_command() -> None:
    """Hand the jobs that never reached Redis over to it, once."""
    click.echo(f"{relay()} pending job(s) handed over.")


@jobs_cli.command("schedule")
def schedule_command() -> None:
    """Ask for the monthly invoice run now (it invoices each month once, however asked)."""
    if schedule_monthly_invoices(force=True):
        click.echo("Monthly invoice run requested.")
    else:
        click.echo("No monthly invoice job is registered.")
