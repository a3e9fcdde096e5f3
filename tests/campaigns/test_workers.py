"""On PostgreSQL with real Redis: reservations conserved while usage, scheduling and
cancelling race; a repeating campaign run by two `flask jobs worker` processes (RQ's
scheduler queues each run at its time) sends each occurrence exactly once."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.campaigns import operations as campaigns
from tenants.campaigns.occurrences import local_start
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, enqueue, rollback
from tenants.models import (
    Campaign,
    CampaignRun,
    CampaignStatus,
    Message,
    MessageStatus,
    Organization,
    RunStatus,
    SmsMessage,
)
from tenants.models.ledger import SYSTEM_ACCOUNT
from tests.campaigns.conftest import assert_conserved, held, next_run, reserved, runs_of
from tests.conftest import new_reference
from tests.jobs.conftest import worker_env

pytestmark = pytest.mark.postgres_only
ROOT = Path(__file__).resolve().parents[2]


def in_threads(app, count: int, target) -> list[Exception]:
    """``target(index)`` in ``count`` threads started together, each in its own app context
    (its own session); the errors they raised."""
    db.session.rollback()  # the threads never touch this thread's session or its objects
    errors: list[Exception] = []
    barrier = threading.Barrier(count)

    def work(index: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                target(index)
            except Exception as error:  # reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    return errors


def test_reservations_are_conserved_under_concurrent_usage_scheduling_and_cancelling(app, shop):
    credits.add_credits(SYSTEM, shop.acme, SYSTEM_ACCOUNT, 400)  # 500 held
    commit()
    org_id, list_id, actor = shop.acme.id, shop.customers.id, shop.actor

    def work(index):
        org = db.session.get(Organization, org_id)
        chance = random.Random(index)
        for _ in range(25):
            try:
                if index % 3 == 0:
                    record_usage(
                        SYSTEM, org, credits=chance.randint(1, 9), reference=new_reference()
                    )
                elif index % 3 == 1:
                    campaigns.create_campaign(
                        actor,
                        org,
                        name=f"C{index}",
                        list_id=list_id,
                        text="a" * chance.choice((10, 200, 400)),
                        starts_at=utcnow() + timedelta(hours=1),
                    )
                else:
                    open_ = db.session.scalars(
                        select(Campaign).where(
                            Campaign.organization_id == org_id,
                            Campaign.status == CampaignStatus.SCHEDULED,
                        )
                    ).all()
                    if open_:
                        campaigns.cancel_campaign(actor, org, chance.choice(open_))
                commit()
            except DomainError:
                rollback()

    assert in_threads(app, 9, work) == []
    assert_conserved(shop.acme)
    assert reserved(shop.acme) <= held(shop.acme)
    statuses = db.session.scalars(select(Campaign.status)).all()
    assert CampaignStatus.CANCELLED in statuses and len(statuses) > 3


def _start_worker(app, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker"],
            cwd=ROOT,
            env=worker_env(app),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(workers: list[subprocess.Popen]) -> None:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def test_two_workers_send_each_occurrence_of_a_repeating_campaign_once(app, redis, shop, tmp_path):
    app.config.update(WORKER_MAX_JOBS=0, WORKER_MAX_RSS_MB=0)
    start = utcnow() + timedelta(seconds=4)
    campaign = campaigns.create_campaign(
        shop.actor,
        shop.acme,
        name="Daily",
        list_id=shop.customers.id,
        text="Hello",
        starts_at=start,
        repeat="daily",
        until=(start + timedelta(days=2)).date(),
    )
    commit()
    # As if scheduled two days ago while no worker ran: occurrences 0 and 1 are late (each
    # runs once, late), occurrence 2 comes in seconds through RQ's scheduler, and it is the
    # last (until: its day).
    run = next_run(campaign)
    db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(
            starts_at=start - timedelta(days=2),
            until=local_start(start, campaign.timezone).date(),
        )
    )
    db.session.execute(
        update(CampaignRun).where(CampaignRun.id == run.id).values(due_at=start - timedelta(days=2))
    )
    for _ in range(3):  # the first occurrence asked for again and again: both workers race
        enqueue("run_campaign", run_id=run.id)
    commit()
    campaign_id, org_id = campaign.id, shop.acme.id
    db.session.remove()
    workers = [_start_worker(app, tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sent = db.session.scalar(
                select(func.count(CampaignRun.id)).where(
                    CampaignRun.campaign_id == campaign_id, CampaignRun.status == RunStatus.SENT
                )
            )
            done = db.session.scalar(
                select(func.count(Message.id)).where(Message.status == MessageStatus.DONE)
            )
            db.session.rollback()
            if sent == 3 and done == 3:
                break
            assert all(w.poll() is None for w in workers), "a worker stopped"
            time.sleep(0.5)
        else:
            raise AssertionError("the runs did not all happen in time")
        time.sleep(3)  # anything sent twice would show by now
    finally:
        _stop(workers)
        db.session.remove()
    logs = "\n".join(p.read_text() for p in sorted(tmp_path.glob("worker*.log")))
    done_runs = runs_of(db.session.get(Campaign, campaign_id))
    assert [(r.occurrence, r.status) for r in done_runs] == [
        (0, RunStatus.SENT),
        (1, RunStatus.SENT),
        (2, RunStatus.SENT),
    ], logs
    messages = db.session.scalars(select(Message)).all()
    assert len(messages) == 3 and {m.id for m in messages} == {r.message_id for r in done_runs}
    sandbox = select(func.count(SmsMessage.id)).where(SmsMessage.gateway == "sandbox")
    assert db.session.scalar(sandbox) == 9  # 3 numbers x 3 runs
    org = db.session.get(Organization, org_id)
    assert held(org) == 91 and reserved(org) == 0
    assert_conserved(org)
