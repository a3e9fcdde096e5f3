"""A hung Redis (accepts, never answers) costs the job hand-over one short timeout, then
nothing for REDIS_RETRY_SECONDS: the rows wait for the relay, which still tries each round."""

from __future__ import annotations

import time

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.jobs.outbox import redis_connection
from tenants.jobs.worker import relay
from tenants.models import QueuedJob
from tests.jobs.conftest import REDIS_URL, burst_worker


def _pending() -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            QueuedJob.dispatched_at.is_(None), QueuedJob.finished_at.is_(None)
        )
    )


def test_after_a_failed_hand_over_requests_leave_jobs_to_the_relay_for_a_while(
    app, redis, hung_redis, create_reseller, create_organization
):
    app.config.update(REDIS_URL=hung_redis.url, REDIS_RETRY_SECONDS=60)
    reseller = create_reseller()
    started = time.perf_counter()
    create_organization(reseller)  # the hand-over times out: the row stays pending
    assert time.perf_counter() - started < 2
    tried = len(hung_redis.accepted)
    assert tried >= 1 and _pending() == 1

    create_organization(reseller)  # within REDIS_RETRY_SECONDS: Redis is not even asked
    assert len(hung_redis.accepted) == tried
    assert _pending() == 2

    assert relay() == 0  # the relay itself still tries Redis each round
    assert len(hung_redis.accepted) > tried

    app.config["REDIS_URL"] = REDIS_URL  # Redis is back
    assert relay() == 2
    burst_worker(app)
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).where(QueuedJob.finished_at.is_(None))) == 0


def test_redis_calls_of_requests_have_short_timeouts_which_a_worker_leaves_alone(app, redis):
    app.config["REDIS_TIMEOUT_SECONDS"] = 0.2
    options = redis_connection().connection_pool.connection_kwargs
    assert options["socket_timeout"] == options["socket_connect_timeout"] == 0.2
    burst_worker(app)  # RQ raises its own client's read timeout above its blocking dequeue
    assert redis_connection().connection_pool.connection_kwargs["socket_timeout"] == 0.2
