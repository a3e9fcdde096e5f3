"""Rate limiting per key: 429 with Retry-After, counted in the database or in Redis."""

from __future__ import annotations

import os
import uuid

import pytest

from tests.api.test_auth_and_errors import assert_error

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        from redis import Redis

        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["database", "redis"])
def app_config(request, app_config):
    if request.param == "redis":
        # Redis runs wherever the suite runs (scripts/test.sh starts it): fail, never skip.
        assert redis_reachable(), f"no Redis at {REDIS_URL}"
        # A queue name of its own, should anything be enqueued during the test.
        app_config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=f"test-{uuid.uuid4().hex}")
    app_config["API_RATE_LIMIT"] = "3/minute"
    return app_config


def test_past_the_limit_is_429_with_retry_after(api, tenants):
    for remaining in (2, 1, 0):
        response = api.get("/organizations", tenants.key_a)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    response = api.get("/organizations", tenants.key_a)
    assert_error(response, 429, "rate_limited")
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # Per key: another key still gets through.
    assert api.get("/organizations", tenants.key_b).status_code == 200


def test_limit_parsing():
    from reseller.api.ratelimit import Limit, parse_limit

    assert parse_limit("600/minute") == Limit(600, 60)
    assert parse_limit("10/second") == Limit(10, 1)
    assert parse_limit("100/30s") == Limit(100, 30)
    assert parse_limit("") is None
    with pytest.raises(ValueError):
        parse_limit("lots")
