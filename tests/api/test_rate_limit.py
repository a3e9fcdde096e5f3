"""Rate limiting per key (reseller.api.ratelimit, a moving window): 429 in the API's error
format with Retry-After, counted in memory without Redis and in Redis with it (shared by app
servers), in memory while Redis fails."""

from __future__ import annotations

import os
import random
import uuid

import pytest
from redis import Redis

from app import create_app
from tenants.core.config import load_config
from tenants.core.extensions import db
from tests.api.test_auth_and_errors import assert_error

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_reachable() -> bool:
    try:
        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["memory", "redis"])
def app_config(request, app_config):
    if request.param == "redis":
        # Redis runs wherever the suite runs (scripts/test.sh starts it): fail, never skip.
        assert redis_reachable(), f"no Redis at {REDIS_URL}"
        # A queue name of its own, should anything be enqueued during the test.
        app_config.update(REDIS_URL=REDIS_URL, RQ_QUEUE=f"test-{uuid.uuid4().hex}")
    app_config["API_RATE_LIMIT"] = "3/minute"
    return app_config


def some_address() -> str:
    """A remote address of this test's own (Redis keeps its counts across tests)."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


def test_past_the_limit_is_429_with_retry_after_per_key(api, tenants):
    for remaining in (2, 1, 0):
        response = api.get("/organizations", tenants.key_a)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit"] == "3"
        assert response.headers["X-RateLimit-Remaining"] == str(remaining)
        assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 60
    response = api.get("/organizations", tenants.key_a, headers={"Accept-Language": "es"})
    error = assert_error(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["message"] == (
        f"Demasiadas solicitudes. Espera {retry_after} segundos y vuelve a intentarlo."
    )
    assert response.headers["X-RateLimit-Remaining"] == "0"
    # One count per key across every endpoint: a POST is refused as well, and changes nothing.
    response = api.post("/organizations/org_00000000000000000000000000/suspend", tenants.key_a)
    assert_error(response, 429, "rate_limited")
    # Per key: another key still gets through.
    assert api.get("/organizations", tenants.key_b).status_code == 200


def test_requests_without_a_valid_key_are_limited_per_address(client):
    address = some_address()
    for _ in range(3):
        response = client.get(
            "/api/v1/organizations",
            headers={"Authorization": f"Bearer bad-{uuid.uuid4().hex}"},
            environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 401
    response = client.get("/api/v1/organizations", environ_base={"REMOTE_ADDR": address})
    assert_error(response, 429, "rate_limited")
    assert int(response.headers["Retry-After"]) > 0
    other = client.get("/api/v1/organizations", environ_base={"REMOTE_ADDR": some_address()})
    assert other.status_code == 401


def test_web_pages_are_not_limited(client):
    for _ in range(5):
        response = client.get("/login")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers


def test_an_empty_setting_turns_limiting_off(app, api, tenants):
    app.config["API_RATE_LIMIT"] = ""
    for _ in range(5):
        response = api.get("/organizations", tenants.key_a)
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers


def test_app_servers_on_one_redis_share_the_count(app, app_config, api, tenants):
    assert api.get("/organizations", tenants.key_a).status_code == 200
    other_app = create_app(app_config)
    other = other_app.test_client()
    headers = {"Authorization": f"Bearer {tenants.key_a}"}
    shared = bool(app.config["REDIS_URL"])  # in memory, each app server counts alone
    try:
        for remaining in (1, 0) if shared else (2, 1):
            response = other.get("/api/v1/organizations", headers=headers)
            assert response.headers["X-RateLimit-Remaining"] == str(remaining)
    finally:
        with other_app.app_context():
            db.engine.dispose()
    response = api.get("/organizations", tenants.key_a)
    if shared:
        assert_error(response, 429, "rate_limited")
    else:
        assert response.headers["X-RateLimit-Remaining"] == "1"


def test_the_default_is_6000_a_minute_and_a_bad_setting_fails_at_start(
    app_config, tmp_path, monkeypatch
):
    monkeypatch.delenv("API_RATE_LIMIT", raising=False)
    assert load_config(tmp_path)["API_RATE_LIMIT"] == "6000/minute"
    with pytest.raises(ValueError):
        create_app({**app_config, "API_RATE_LIMIT": "lots"})


def test_a_failing_redis_is_counted_around_in_memory_and_used_again_once_it_answers(app_config):
    """Redis refusing connections: the request is counted in memory at once, Redis is not
    tried again until its back-off passes (1 s, then 2, 4 … 32), and once it answers the
    counts are in Redis again (shared by every app server)."""
    import time

    from reseller.api.ratelimit import RateLimiter, _limits
    from tests.jobs.conftest import dead_redis_url

    app = create_app({**app_config, "REDIS_URL": dead_redis_url()})
    limiter = RateLimiter()
    (item,) = _limits("2/minute")
    caller = f"key:test-{uuid.uuid4().hex}"
    with app.test_request_context():
        assert limiter.hit(item, caller)[:1] == (True,)  # Redis refused: counted in memory
        assert limiter.failures == 1 and limiter.retry_at > time.monotonic()
        started = time.perf_counter()
        acquired, _oldest, count = limiter.hit(item, caller)
        assert acquired and count == 2 and time.perf_counter() - started < 0.05
        assert limiter.hit(item, caller)[0] is False  # the memory's window is full
        # Redis answers again (the real one stands for it) once the back-off has passed.
        app.config["REDIS_URL"] = REDIS_URL
        limiter.retry_at = 0.0
        acquired, _oldest, count = limiter.hit(item, caller)
        assert acquired and count == 1 and limiter.failures == 0
    stored = Redis.from_url(REDIS_URL).keys(f"LIMITS:*{caller}*")
    assert len(stored) == 1


def test_the_window_moves_requests_leave_it_as_they_age(app, api, tenants):
    """A moving window, in memory and in Redis alike: each request counts for the window's
    length after it, so the first to leave frees one place while the later ones still count,
    and the reset is when the oldest one still counted leaves."""
    import time

    app.config["API_RATE_LIMIT"] = "2 per 3 seconds"
    first = api.get("/organizations", tenants.key_a)
    time.sleep(1.5)
    second = api.get("/organizations", tenants.key_a)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.headers["X-RateLimit-Remaining"] == "0"
    assert second.headers["X-RateLimit-Reset"] in ("1", "2")  # when the first leaves
    assert_error(api.get("/organizations", tenants.key_a), 429, "rate_limited")
    time.sleep(1.6)  # the first has left, the second still counts
    third = api.get("/organizations", tenants.key_a)
    assert third.status_code == 200
    assert third.headers["X-RateLimit-Remaining"] == "0"
    assert_error(api.get("/organizations", tenants.key_a), 429, "rate_limited")
