"""The hourly schedule asks for the expiry of unpaid purchases; the job expires them once."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import purchases
from tenants.jobs import worker
from tenants.jobs.outbox import commit, enqueue
from tenants.models import Purchase, PurchaseStatus, QueuedJob
from tests.jobs.conftest import burst_worker


def stale_purchase(org, minutes: int) -> Purchase:
    purchase = purchases.start_purchase(
        SYSTEM, org, credit_count=100, account="system", payment_method="sandbox"
    )
    commit()
    db.session.execute(
        sa.update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(created_at=utcnow() - timedelta(minutes=minutes))
    )
    commit()
    return purchase


def test_the_hourly_schedule_asks_for_the_expiry_once_across_workers(app, redis, shop):
    redis.delete(*redis.keys("portal:schedule:*") or ["none"])
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 60
    purchase = stale_purchase(shop.org, 120)
    worker.schedule_hourly_jobs()
    worker.schedule_hourly_jobs()  # another worker, same hour: nothing more
    names = db.session.scalars(
        sa.select(QueuedJob.name).where(QueuedJob.name.in_(worker.HOURLY_JOBS))
    ).all()
    assert sorted(names) == sorted(worker.HOURLY_JOBS)
    burst_worker(app)
    db.session.expire_all()
    assert db.session.get(Purchase, purchase.id).status == PurchaseStatus.DECLINED
    assert db.session.get(Purchase, purchase.id).decline_reason == purchases.EXPIRED
    redis.delete(*redis.keys("portal:schedule:*") or ["none"])


def test_the_job_runs_in_process_without_redis_and_twice_is_harmless(app, shop):
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 60
    stale = stale_purchase(shop.org, 120)
    fresh = stale_purchase(shop.org, 10)
    enqueue("expire_pending_purchases")
    commit()
    enqueue("expire_pending_purchases")
    commit()
    db.session.expire_all()
    assert db.session.get(Purchase, stale.id).status == PurchaseStatus.DECLINED
    assert db.session.get(Purchase, fresh.id).status == PurchaseStatus.PENDING
    jobs = db.session.scalars(sa.select(QueuedJob)).all()
    assert all(job.finished_at is not None and job.last_error is None for job in jobs)
