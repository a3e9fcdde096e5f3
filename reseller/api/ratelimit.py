"""Rate limiting per API key on Flask-Limiter (SPEC §7).

``API_RATE_LIMIT`` (a ``limits`` string: ``6000/minute``, ``100 per 30 seconds``; empty: no
limit) is counted in a moving window per key, across every endpoint of /api/v1, in Redis
(REDIS_URL, shared by every app server) or in memory without it. A request without a valid
key is counted per remote address, so 401s are limited too.

A slow or dead Redis never holds a request: the storage's client has short timeouts
(REDIS_TIMEOUT_SECONDS), and once it fails the limiter counts in memory, trying Redis again
now and then (after 1, 2, 4 … 32 seconds) until it answers.

One Redis round trip per request (bench B1): the storage (``OneTripRedisStorage``) counts
the request, reads the window the X-RateLimit headers tell, and reads the API keys'
generation (tenants.api_keys.cache) in one Lua script.
"""

from __future__ import annotations

import math
import time

from flask import Flask, current_app, has_request_context, request
from flask.wrappers import Response
from flask_babel import ngettext
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from limits.storage import RedisStorage

from reseller.api.blueprint import bp
from reseller.api.core import error_response, request_api_key
from tenants.api_keys import cache as key_cache
from tenants.core.config import redis_client_options

EXTENSION = "api_limiter"
_WINDOWS = "portal.rate_windows"  # request.environ: the windows this request's hits read

# limits' acquire_moving_window.lua, then its moving_window.lua's read of the window (the
# oldest entry still in it, found by binary search, and the count), then the keys'
# generation: {acquired, oldest, count, generation}.
ACQUIRE_AND_READ = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local acquired = 0
if amount <= limit then
  local entry = redis.call('lindex', KEYS[1], limit - amount)
  if not (entry and tonumber(entry) >= timestamp - expiry) then
    local entries = {}
    for i = 1, amount do entries[i] = timestamp end
    for i = 1, #entries, 5000 do
      redis.call('lpush', KEYS[1], unpack(entries, i, math.min(i + 4999, #entries)))
    end
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
    acquired = 1
  end
end
local target = timestamp - expiry
local low, high, found = 0, limit - 1, nil
while low <= high do
  local mid = math.floor((low + high) / 2)
  local value = tonumber(redis.call('lindex', KEYS[1], mid))
  if value and value >= target then found = mid; low = mid + 1 else high = mid - 1 end
end
local oldest, count = tostring(timestamp), 0
if found then
  oldest = tostring(tonumber(redis.call('lindex', KEYS[1], found)))
  count = found + 1
end
return {acquired, oldest, count, redis.call('get', KEYS[2]) or '0'}
"""


class OneTripRedisStorage(RedisStorage):
    """limits' Redis storage, with a hit that also reads its window and the API keys'
    generation: the after-request headers then ask Redis nothing more.
    ``portal+redis://…`` is the REDIS_URL it serves."""

    STORAGE_SCHEME = ["portal+redis", "portal+rediss", "portal+redis+unix"]

    def __init__(self, uri: str, **options) -> None:
        super().__init__(uri.removeprefix("portal+"), **options)

    def initialize_storage(self, uri: str) -> None:
        super().initialize_storage(uri)
        self.lua_acquire_and_read = self.get_connection().register_script(ACQUIRE_AND_READ)

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        acquired, oldest, count, generation = self.lua_acquire_and_read(
            [self.prefixed_key(key), key_cache.GENERATION_KEY], [time.time(), limit, expiry, amount]
        )
        if has_request_context():
            windows = request.environ.setdefault(_WINDOWS, {})
            windows[key, limit, expiry] = (float(oldest), int(count))
            key_cache.saw_generation(generation)
        return bool(acquired)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        if has_request_context():
            window = request.environ.get(_WINDOWS, {}).pop((key, limit, expiry), None)
            if window is not None:
                return window
        return super().get_moving_window(key, limit, expiry)


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
        storage_uri=f"portal+{url}" if url else "memory://",
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
