"""Keeps the parts of ``flask jobs worker`` alive through Redis and database outages.

The parts: the RQ worker loop (in the main thread: RQ's job timeouts use signals), RQ's
scheduler (moves delayed retries into the queue; run here every second, so it resumes the
moment Redis is back instead of at RQ's next maintenance pass) and the housekeeper (relay,
reaper, hourly schedule). Each part catches Redis and database errors, backs off, reconnects
and logs an outage once when it starts and once when it ends; a part that stopped anyway is
started again at once. A monitor writes each live part's heartbeat to the database, which
``flask jobs health`` reads: it answers through a Redis outage.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Flask, current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.lease import oldest_incomplete_age
from tenants.jobs.recycle import FORK_LOCK
from tenants.models import JobRunnerBeat

log = logging.getLogger(__name__)

PARTS = ("worker", "scheduler", "relay")
BROKER_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, DBAPIError)
MAX_BACKOFF_SECONDS = 5.0


class Outage:
    """Logs a part's outage when it starts and when it ends, never once per retry."""

    def __init__(self, part: str, on_recover: Callable[[], None] | None = None) -> None:
        self.part, self.on_recover = part, on_recover
        self.since: float | None = None
        self.delay = 0.5

    def failed(self, error: BaseException) -> float:
        """Note a failure; how long to back off before the next try."""
        if self.since is None:
            self.since = time.monotonic()
            kind = type(error).__name__
            log.warning("%s: %s: %s; retrying until it is back", self.part, kind, error)
        else:
            self.delay = min(self.delay * 2, MAX_BACKOFF_SECONDS)
        return self.delay

    def recovered(self) -> None:
        if self.since is not None:
            log.warning("%s: back after %.0f s", self.part, time.monotonic() - self.since)
            self.since, self.delay = None, 0.5
            if self.on_recover is not None:
                self.on_recover()


class QuietReconnects(logging.Filter):
    """Lets one of RQ's 'could not connect to Redis' lines through per outage."""

    def __init__(self) -> None:
        super().__init__()
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if "could not connect to Redis" not in str(record.msg):
            return True
        if self.said:
            return False
        self.said = True
        return True

    def reset(self) -> None:
        self.said = False


class Part(threading.Thread):
    """One part's loop: ``step`` every ``interval`` seconds in an app context, surviving
    errors; ``last_round`` is when a round last ended (successfully or not)."""

    def __init__(self, name: str, app: Flask, step: Callable[[], None], interval: float):
        super().__init__(name=f"portal-{name}", daemon=True)
        self.part, self.app, self.step, self.interval = name, app, step, interval
        self.stopped = threading.Event()
        self.outage = Outage(name)
        self.last_round = time.monotonic()

    def run(self) -> None:
        while not self.stopped.is_set():
            pause = self.interval
            with FORK_LOCK, self.app.app_context():  # never forked mid-round (recycle.py)
                try:
                    self.step()
                    self.outage.recovered()
                except BROKER_ERRORS as error:
                    pause = self.outage.failed(error)
                except Exception:
                    log.exception("%s: round failed", self.part)
                finally:
                    _quietly(db.session.remove)
            self.last_round = time.monotonic()
            self.stopped.wait(pause)

    def again(self) -> Part:
        """A fresh thread for this part (a thread cannot be started twice)."""
        return Part(self.part, self.app, self.step, self.interval)

    def alive(self) -> bool:
        late = max(3 * self.interval, 3 * MAX_BACKOFF_SECONDS, 15)
        return self.is_alive() and time.monotonic() - self.last_round < late


class Scheduler:
    """RQ's scheduler, one round a second: delayed jobs (retries) whose time came go to the
    queue. Its locks are taken again at once after a Redis outage."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.rq_scheduler = None

    def __call__(self) -> None:
        from rq.scheduler import RQScheduler

        if self.rq_scheduler is None:
            connection = redis.Redis.from_url(
                current_app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=10
            )
            self.rq_scheduler = RQScheduler([current_app.config["RQ_QUEUE"]], connection)
        scheduler = self.rq_scheduler
        try:
            if not scheduler.acquired_locks:
                scheduler.acquire_locks()
            if scheduler.acquired_locks:
                scheduler.heartbeat()
                scheduler.enqueue_scheduled_jobs()
        except BROKER_ERRORS:
            scheduler._acquired_locks = set()
            scheduler._scheduled_job_registries = []
            raise

    def stop(self) -> None:
        if self.rq_scheduler is not None:
            _quietly(self.rq_scheduler.release_locks)


class Supervisor:
    """Runs and keeps alive the worker loop, the scheduler and the housekeeper."""

    def __init__(self, app: Flask, make_worker: Callable[[], object], housekeeping) -> None:
        self.app, self.make_worker = app, make_worker
        self.stopping = threading.Event()
        self.worker_outage = Outage("worker")
        self.in_work = False
        self.scheduler = Scheduler(app)
        interval = float(app.config["JOB_RELAY_SECONDS"])
        self.parts = {
            "scheduler": Part("scheduler", app, self.scheduler, 1.0),
            "relay": Part("relay", app, housekeeping, interval),
        }
        self.monitor = Part("monitor", app, self.beat, min(interval, 5.0))
        self.quiet = QuietReconnects()
        self.parts["scheduler"].outage.on_recover = self.quiet.reset

    # -- the monitor: restarts a stopped part, records the live ones -----------------------

    def beat(self) -> None:
        for name, part in list(self.parts.items()):
            if not part.is_alive() and not self.stopping.is_set():
                log.warning("%s: stopped; starting it again", name)
                self.parts[name] = part = part.again()
                part.start()
        alive = [name for name, part in self.parts.items() if part.alive()]
        if self.in_work:
            alive.append("worker")
        record_beats(alive)

    # -- the main thread: RQ's worker loop, started again whenever it ends -----------------

    def run(self) -> None:
        logging.getLogger("rq.worker").addFilter(self.quiet)
        for part in [*self.parts.values(), self.monitor]:
            part.start()
        try:
            while not self.stopping.is_set():
                self._work_once()
        finally:
            for part in [*self.parts.values(), self.monitor]:
                part.stopped.set()
            self.scheduler.stop()

    def _work_once(self) -> None:
        worker = None
        try:
            worker = self.make_worker()
            worker.connection.ping()
            self.worker_outage.recovered()
            worker.max_connection_wait_time = MAX_BACKOFF_SECONDS
            self.in_work = True
            worker.work(with_scheduler=False, logging_level="INFO")
        except BROKER_ERRORS as error:
            pause = self.worker_outage.failed(error)
        else:
            pause = 0.5  # RQ quit on an error it logged, or after its job quota: again
        finally:
            self.in_work = False
            if worker is not None:
                _quietly(worker.connection.close)
        if worker is not None and getattr(worker, "_stop_requested", False):
            self.stopping.set()  # SIGTERM or SIGINT: a warm shut-down
            return
        self._listen_for_stop()
        self.stopping.wait(pause)

    def _listen_for_stop(self) -> None:
        """Between RQ runs (RQ installs its own handlers while it works)."""
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: self.stopping.set())


# -- heartbeats and health -------------------------------------------------------------------


def record_beats(parts: list[str]) -> None:
    """This process's live parts beat now; beats of a day ago are dropped."""
    now, host, pid = utcnow(), socket.gethostname()[:120], os.getpid()
    for part in parts:
        key = f"{part}:{host}:{pid}"
        done = db.session.execute(
            update(JobRunnerBeat).where(JobRunnerBeat.id == key).values(beat_at=now)
        )
        if done.rowcount == 0:
            db.session.add(JobRunnerBeat(id=key, part=part, host=host, pid=pid, beat_at=now))
    db.session.execute(delete(JobRunnerBeat).where(JobRunnerBeat.beat_at < now - timedelta(days=1)))
    db.session.commit()


def health() -> dict:
    """Each part's last beat (seconds ago, None: never), whether it counts as alive, and the
    age in seconds of the oldest job neither done nor given up."""
    stale = float(current_app.config.get("JOB_HEALTH_SECONDS", 30))
    now = utcnow()
    last = dict(
        db.session.execute(
            select(JobRunnerBeat.part, func.max(JobRunnerBeat.beat_at)).group_by(JobRunnerBeat.part)
        ).all()
    )
    parts = {}
    for part in PARTS:
        ago = None if last.get(part) is None else (now - last[part]).total_seconds()
        parts[part] = {"seconds_ago": ago, "alive": ago is not None and ago < stale}
    oldest = oldest_incomplete_age()
    return {
        "parts": parts,
        "oldest_incomplete_seconds": None if oldest is None else oldest.total_seconds(),
        "healthy": all(p["alive"] for p in parts.values()),
    }


def _quietly(call: Callable[[], object]) -> None:
    try:
        call()
    except Exception:
        log.debug("ignored while cleaning up", exc_info=True)
