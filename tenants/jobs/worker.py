"""The job runner: an RQ worker with its scheduler, the outbox relay, and the hourly schedule.

``flask jobs worker`` runs an RQ worker on RQ_QUEUE, kept alive with its other parts by a
supervisor (tenants.jobs.supervisor). Beside it the housekeeper, every JOB_RELAY_SECONDS,
puts jobs lost in Redis back in the outbox (tenants.jobs.lease), hands QueuedJob rows that
never reached Redis over to RQ, and once an hour asks for the monthly invoice run, the
expiry of unpaid purchases and of ownership transfers nobody answered — each is idempotent
(one invoice per organization and period, a purchase or a transfer expired once), so every
worker may ask; a Redis key per job and hour keeps it to one request an hour across workers
anyway.

The worker runs jobs in its own process (``SimpleWorker``), no fork per job: a fork per job
loses WeasyPrint's warmed caches and costs ~45 % of a receipt's time (bench/README.md, "Worker
memory"). The app is created once, when the command starts; each job runs in a fresh app
context of it (``PortalWorker``). With WORKER_MAX_JOBS or WORKER_MAX_RSS_MB set (the default),
that worker runs in a forked child replaced after so many jobs or above so much memory
(``RecyclingWorker``, recycle.py), so the memory PDF rendering leaves behind is given back.
Run more worker processes to run more jobs at once.
"""

from __future__ import annotations

import logging
import os
import time

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from rq import SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select, update

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.lease import reap
from tenants.jobs.outbox import (
    commit,
    dispatch,
    enqueue,
    pending_jobs,
    redis_connection,
    rq_queue,
    worker_redis_connection,
)
from tenants.jobs.recycle import RecyclingWorker, rss_mb
from tenants.jobs.registry import JOBS, WARM_UPS
from tenants.jobs.supervisor import Supervisor, health
from tenants.models import QueuedJob

log = logging.getLogger(__name__)

MONTHLY_INVOICES_JOB = "run_monthly_invoices"
EXPIRE_PURCHASES_JOB = "expire_pending_purchases"
EXPIRE_OWNERSHIP_TRANSFERS_JOB = "expire_ownership_transfers"
# Days pass without usage: the forecasts' 7-day windows slide at each midnight of their
# organizations' timezones (tenants.credits.forecast_refresh).
REFRESH_FORECASTS_JOB = "refresh_forecasts"
HOURLY_JOBS = (
    MONTHLY_INVOICES_JOB,
    EXPIRE_PURCHASES_JOB,
    EXPIRE_OWNERSHIP_TRANSFERS_JOB,
    REFRESH_FORECASTS_JOB,
)
SCHEDULE_SECONDS = 3600
# How long the worker's command listener (RQ's pubsub thread) waits for a message at once.
PUBSUB_WAIT_SECONDS = 1.0


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


class Housekeeping:
    """One round of the housekeeper (a part of ``flask jobs worker``, kept alive by its
    supervisor): put lost jobs back in the outbox, relay the outbox, and ask for the
    schedule every hour."""

    def __init__(self, next_schedule: float = 0.0) -> None:
        self.next_schedule = next_schedule

    def __call__(self) -> None:
        if reap() + relay():
            log.info("relay handed pending jobs over to Redis")
        if time.monotonic() >= self.next_schedule:
            schedule_hourly_jobs()
            self.next_schedule = time.monotonic() + SCHEDULE_SECONDS


class PortalWorker(SimpleWorker):
    """An RQ worker for one app: each job runs in a fresh app context of it, so it has the
    app's configuration and a database session of its own, removed when the job ends.

    With ``max_rss_mb``, a job that leaves the process above that many MB resident makes the
    worker stop cleanly after it (``over_memory``): its process is then replaced (recycle.py).
    """

    def __init__(self, *args, app: Flask | None = None, max_rss_mb: int | None = None, **kw):
        super().__init__(*args, **kw)
        self.app = app  # None only where RQ itself makes one (e.g. listing workers)
        self.max_rss_mb = max_rss_mb
        self.jobs_done = 0
        self.over_memory = False

    def subscribe(self) -> None:
        """RQ's own, except that its listener waits at most PUBSUB_WAIT_SECONDS for a
        message: with RQ's 60 s, a listener that saw the unsubscribe before being told to
        stop sleeps 60 s (redis-py, not subscribed) and stopping joins it, so every stop — a
        SIGTERM, the end of a burst — could take a minute."""
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_WAIT_SECONDS,
            daemon=True,
            exception_handler=self._pubsub_exception_handler,
        )

    def request_stop(self, signum, frame) -> None:
        """RQ's warm shut-down, remembered whatever the worker was doing: idle, RQ leaves
        its loop by an exception without marking the worker stopped, and the supervisor
        (which reads ``_stop_requested``) would start the loop again."""
        self._stop_requested = True
        super().request_stop(signum, frame)

    def execute_job(self, job, queue):
        app = self.app or current_app._get_current_object()
        try:
            with app.app_context():
                return super().execute_job(job, queue)
        finally:
            self.jobs_done += 1
            rss = rss_mb() if self.max_rss_mb else None
            if rss is not None and rss > self.max_rss_mb:
                log.info("worker at %.0f MB (limit %s MB): recycling", rss, self.max_rss_mb)
                self.over_memory = True
                self._stop_requested = True  # RQ's loop stops before the next job

    def spent(self, max_jobs: int | None) -> bool:
        """Whether it stopped to be replaced: its job quota done, or above its memory."""
        return self.over_memory or (max_jobs is not None and self.jobs_done >= max_jobs)


# -- failed jobs (the platform admin's page) -----------------------------------------------


def failed_jobs(limit: int = 200) -> list[dict]:
    """Jobs that failed, newest first: RQ's failed registry and outbox rows with an error.
    Each row says whether the job gave up (``failed``: Retry runs it again) or is still
    retrying on its own (a later attempt is scheduled)."""
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
        row["failed"] = row["in_rq"] or job.failed_at is not None
        row["failed_at"] = job.failed_at or row["failed_at"]
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
                db.session.execute(
                    update(QueuedJob).where(QueuedJob.id == job_id).values(failed_at=None)
                )
                db.session.commit()
                registry.requeue(job_id)
                return True
        except Exception:
            log.warning("could not requeue %s in RQ; handing it over afresh", job_id)
    db.session.execute(
        update(QueuedJob).where(QueuedJob.id == job_id).values(dispatched_at=None, failed_at=None)
    )
    commit()
    dispatch([job_id])
    return True


# -- commands ------------------------------------------------------------------------------

jobs_cli = AppGroup("jobs", help="Background jobs: the RQ worker and the outbox relay.")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Run the jobs waiting now, then stop.")
def worker_command(burst: bool) -> None:
    """Run an RQ worker with the scheduler, the relay and the reaper, kept alive through
    Redis and database outages."""
    app = current_app._get_current_object()
    if not app.config.get("REDIS_URL"):
        raise click.ClickException("Set REDIS_URL: without Redis, jobs run in-process.")
    if burst:
        handed = relay()
        click.echo(f"Relay: {handed} pending job(s) handed over.")
    db.session.remove()
    for load in WARM_UPS:  # once here: the job processes forked below inherit it
        load()

    def make_worker() -> PortalWorker:
        connection = worker_redis_connection()
        return PortalWorker(
            [rq_queue(connection)],
            connection=connection,
            app=app,
            max_rss_mb=app.config["WORKER_MAX_RSS_MB"] or None,
        )

    def recycling_worker() -> RecyclingWorker:
        return RecyclingWorker(
            make_worker, lambda: prepare_job_child(app), app.config["WORKER_MAX_JOBS"]
        )

    recycling = app.config["WORKER_MAX_JOBS"] or app.config["WORKER_MAX_RSS_MB"]
    worker_factory = recycling_worker if recycling else make_worker
    if burst:
        worker_factory().work(burst=True)
        return
    Supervisor(app, worker_factory, Housekeeping()).run()


def prepare_job_child(app: Flask) -> None:
    """In a forked worker child, before its first job: its own connections, and a CPU
    priority WORKER_NICE steps lower than the parent's (the parent's scheduler, relay and
    reaper keep theirs; so does the web server, whose requests go first on a shared host)."""
    forget_parent_connections(app)
    if app.config.get("WORKER_NICE"):
        os.nice(app.config["WORKER_NICE"])


def forget_parent_connections(app: Flask) -> None:
    """In a forked worker child: drop the parent's database pool (its connections stay open
    for the parent) and Redis clients; the child opens its own."""
    with app.app_context():
        db.engine.dispose(close=False)
    app.extensions.pop("portal_redis", None)


@jobs_cli.command("health")
def health_command() -> None:
    """Whether the worker, scheduler and relay are alive, and the oldest incomplete job's
    age; exits 1 when a part is not alive."""
    report = health()
    for part, state in report["parts"].items():
        ago = state["seconds_ago"]
        seen = "never seen" if ago is None else f"last beat {ago:.0f} s ago"
        click.echo(f"{part}: {'alive' if state['alive'] else 'DOWN'} ({seen})")
    oldest = report["oldest_incomplete_seconds"]
    age = "none" if oldest is None else f"{oldest:.0f} s"
    click.echo(f"oldest incomplete job: {age}")
    click.echo("healthy" if report["healthy"] else "UNHEALTHY")
    if not report["healthy"]:
        raise SystemExit(1)


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
