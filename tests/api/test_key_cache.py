"""API keys remembered per app process (tenants.api_keys.cache): read from the database
once, and refused on every process at once when revoked or when their tenant is suspended.

Two app instances on one database and one Redis stand for two gunicorn workers: each has
its own memory of keys, as two processes do.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from app import create_app
from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import ApiKey, Reseller
from tests.api.test_rate_limit import REDIS_URL, redis_reachable
from tests.conftest import FreshRequestClient


@pytest.fixture
def app_config(app_config):
    assert redis_reachable(), f"no Redis at {REDIS_URL}"
    app_config.update(
        REDIS_URL=REDIS_URL,
        RQ_QUEUE=f"test-{uuid.uuid4().hex}",
        API_RATE_LIMIT="1000/minute",
    )
    return app_config


@pytest.fixture
def worker(app_config):
    """A second app instance: another worker with its own memory of keys."""
    other = create_app(app_config)
    other.test_client_class = FreshRequestClient
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@contextmanager
def key_reads(app):
    """How many times the block reads a key from the database (on ``app``'s engine)."""
    reads: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if "FROM api_keys" in statement:
            reads.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield reads
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def get(app, key: str, path: str = "/organizations"):
    return app.test_client().get(f"/api/v1{path}", headers={"Authorization": f"Bearer {key}"})


def test_a_key_is_read_once_per_process(app, worker, tenants):
    assert get(worker, tenants.key_a).status_code == 200
    with key_reads(worker) as reads:
        for _ in range(3):
            assert get(worker, tenants.key_a).status_code == 200
    assert reads == []
    # The secret is still checked on every request: the right prefix with a wrong secret.
    forged = "_".join(tenants.key_a.split("_")[:3]) + "_" + "x" * 43
    assert get(worker, forged).status_code == 401


def _key(secret: str) -> ApiKey:
    prefix = "_".join(secret.split("_")[:3])
    return db.session.query(ApiKey).filter_by(prefix=prefix).one()


def test_a_revoked_key_stops_at_once_on_every_process(app, worker, tenants):
    from tenants.api_keys.operations import revoke_api_key

    for instance in (app, worker):
        assert get(instance, tenants.key_a).status_code == 200
        assert get(instance, tenants.key_a).status_code == 200  # now remembered
    revoke_api_key(SYSTEM, _key(tenants.key_a))
    commit()  # on the first instance; the second learns it from Redis
    for instance in (worker, app):
        response = get(instance, tenants.key_a)
        assert (response.status_code, response.json["error"]["code"]) == (
            401,
            "invalid_api_key",
        )
    # Another key is unaffected (read again once, then remembered again).
    assert get(worker, tenants.key_b).status_code == 200


def test_a_suspended_reseller_is_refused_at_once_on_every_process(app, worker, tenants):
    from tenants.resellers.operations import reactivate_reseller, suspend_reseller

    assert get(worker, tenants.key_a).status_code == 200
    assert get(worker, tenants.key_a).status_code == 200
    reseller = db.session.get(Reseller, _key(tenants.key_a).reseller_id)
    suspend_reseller(SYSTEM, reseller, "unpaid")
    commit()
    response = get(worker, tenants.key_a)
    assert (response.status_code, response.json["error"]["code"]) == (403, "reseller_suspended")
    reactivate_reseller(SYSTEM, reseller)
    commit()
    assert get(worker, tenants.key_a).status_code == 200


def test_without_the_rate_limit_the_generation_is_read_alone(app, worker, tenants):
    from tenants.api_keys.operations import revoke_api_key

    worker.config["API_RATE_LIMIT"] = ""
    path = f"/organizations/{tenants.acme.id}"
    db.session.rollback()  # SQLite: the test's own read holds no lock during the requests
    assert get(worker, tenants.key_acme, path).status_code == 200
    with key_reads(worker) as reads:
        assert get(worker, tenants.key_acme, path).status_code == 200
    assert reads == []
    revoke_api_key(SYSTEM, _key(tenants.key_acme))
    commit()
    assert get(worker, tenants.key_acme, path).status_code == 401


def test_an_api_request_asks_redis_once(app, worker, tenants, monkeypatch):
    """The rate limit's hit, its headers' window and the keys' generation: one round trip
    (was two scripts, and the key read from the database)."""
    from redis.connection import Connection

    sent: list[bytes] = []
    original = Connection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    assert get(worker, tenants.key_a).status_code == 200  # the key is now remembered
    monkeypatch.setattr(Connection, "send_packed_command", counting)
    response = get(worker, tenants.key_a)
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert int(response.headers["X-RateLimit-Remaining"]) == 998
    assert len(sent) == 1, sent


def test_a_savepoint_released_raises_no_generation_before_the_commit(app, worker, tenants):
    """Only the transaction's own commit raises the generation (a savepoint released inside
    it, as a batch's debit does, is not that commit: a process reading the key in between
    would remember the row as it was under the new generation)."""
    from tenants.api_keys.cache import GENERATION_KEY
    from tenants.api_keys.operations import revoke_api_key
    from tenants.jobs.outbox import redis_connection

    assert get(worker, tenants.key_a).status_code == 200
    before = redis_connection().get(GENERATION_KEY)
    revoke_api_key(SYSTEM, _key(tenants.key_a))
    db.session.flush()
    db.session.begin_nested().commit()
    assert redis_connection().get(GENERATION_KEY) == before
    commit()
    assert redis_connection().get(GENERATION_KEY) != before
    assert get(worker, tenants.key_a).status_code == 401
