"""Rate limiting per API key on Flask-Limiter (SPEC §7).

``API_RATE_LIMIT`` (a ``limits`` string: ``6000/minute``, ``100 per 30 seconds``; empty: no
limit) is counted in a moving window per key, across every endpoint of /api/v1, in Redis
(REDIS_URL, shared by every app server) or in memory without it. A request without a valid
key is counted per remote address, so 401s are limited too.

A slow or dead Redis never holds a request: the storage's client has short timeouts
(REDIS_TIMEOUT_SECONDS), and once it fails the limiter counts in memory, trying Redis again
now and then (after 1, 2, 4 … 32 seconds) until it answers.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, request
from flask.wrappers import Response
from flask_babel import ngettext
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many

from reseller.api.blueprint import bp
from reseller.api.core import error_response, request_api_key
from tenants.core.config import redis_client_options

EXTENSION = "api_limiter"


def api_rate_limit() -> str:
    return current_app.config.get("API_RATE_LIMIT") or ""


def rate_key() -> str:
    """Whom a request counts against: its API key, else its remote address."""
    key = request_api_key()
    return f"key:{key.id}" if key is not None else f"ip:{request.remote_addr or '-'}"


def _identify_caller() -> None:
    """Read the request's key before the limiter asks for it, so that a database error is
    the request's own error and not taken for the limiter's storage failing."""
    if request.blueprint == bp.name:
        request_api_key()


def init_rate_limit(app: Flask) -> None:
    """A limiter of this app's own on the API blueprint (not the web pages)."""
    if app.config.get("API_RATE_LIMIT"):
        parse_many(app.config["API_RATE_LIMIT"])  # a bad setting fails at start (ValueError)
    url = app.config.get("REDIS_URL")
    app.before_request(_identify_caller)  # runs before the limiter's own hook
    limiter = Limiter(
        rate_key,
        storage_uri=url or "memory://",
        storage_options=redis_client_options(app.config) if url else {},
        strategy="moving-window",
        key_prefix="api-rate",
        headers_enabled=False,  # written by rate_headers: only on API answers
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.shared_limit(api_rate_limit, scope="api")(bp)
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter


def _usage() -> tuple[int, int, int] | None:
    """This request's limit, what is left of it and the seconds until a request frees up."""
    limiter: Limiter | None = current_app.extensions.get(EXTENSION)
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return None
    try:
        reset_at, remaining = current.window
    except Exception:  # the storage failed since the hit: no headers this time
        return None
    return current.limit.amount, remaining, max(1, math.ceil(reset_at - time.time()))


@bp.after_request
def rate_headers(response: Response) -> Response:
    usage = _usage()
    if usage is not None:
        limit, remaining, reset_in = usage
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(max(remaining, 0))
        response.headers["X-RateLimit-Reset"] = str(reset_in)
    return response


@bp.errorhandler(RateLimitExceeded)
def rate_limited(error: RateLimitExceeded) -> Response:
    usage = _usage()  # raised before the view: nothing to undo
    retry_after = usage[2] if usage else 60
    message = ngettext(
        "Too many requests. Wait %(num)d second and try again.",
        "Too many requests. Wait %(num)d seconds and try again.",
        retry_after,
    )
    return error_response(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
