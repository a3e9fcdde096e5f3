"""Rate limiting per API key (SPEC §7), on the ``limits`` library.

``API_RATE_LIMIT`` (a ``limits`` string: ``6000/minute``, ``100 per 30 seconds``; empty: no
limit) is counted in a moving window per key, across every endpoint of /api/v1, in Redis
(REDIS_URL, shared by every app server) or in memory without it. A request without a valid
key is counted per remote address, so 401s are limited too.

A slow or dead Redis never holds a request: the client has short timeouts
(REDIS_TIMEOUT_SECONDS), and once it fails the limiter counts in memory, trying Redis again
now and then (after 1, 2, 4 … 32 seconds) until it answers.

One Redis round trip per request, and little Python around it (bench B1): one Lua script
counts the request, reads the window the X-RateLimit headers tell and the API keys'
generation (tenants.api_keys.cache). Flask-Limiter did the same through its own
before-request hook, whose bookkeeping cost about 9 % of a usage request's CPU.
"""

from __future__ import annotations

import logging
import math
import time
from functools import lru_cache

import redis
from flask import Flask, current_app, request
from flask.wrappers import Response
from flask_babel import ngettext
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage

from reseller.api.blueprint import bp
from reseller.api.core import error_response, request_api_key
from tenants.api_keys import cache as key_cache
from tenants.jobs.outbox import redis_connection

log = logging.getLogger(__name__)

EXTENSION = "api_limiter"
_USAGE = "portal.rate_usage"  # request.environ: (limit, remaining, seconds to reset)
_PREFIX = "api-rate"  # the Redis keys' (``LIMITS:api-rate/…``)
MAX_BACKOFF_SECONDS = 32

# The moving window of limits' acquire_moving_window.lua and moving_window.lua (a list of
# the window's request times, newest first), kept trimmed: the entries that fell out of the
# window are dropped from its old end first, so the count is the list's length and the
# oldest entry its last -- O(1) a request, where reading the window by binary search cost
# 32 LINDEX and about 70 µs of Redis's CPU a request (bench/README.md, session 20). Then the
# keys' generation: {acquired, oldest, count, generation}.
ACQUIRE_AND_READ = """
local timestamp = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local expiry = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local target = timestamp - expiry
local last = redis.call('lindex', KEYS[1], -1)
while last and tonumber(last) < target do
  redis.call('rpop', KEYS[1])
  last = redis.call('lindex', KEYS[1], -1)
end
local count = redis.call('llen', KEYS[1])
local acquired = 0
if amount <= limit and count + amount <= limit then
  local entries = {}
  for i = 1, amount do entries[i] = timestamp end
  for i = 1, #entries, 5000 do
    redis.call('lpush', KEYS[1], unpack(entries, i, math.min(i + 4999, #entries)))
  end
  redis.call('ltrim', KEYS[1], 0, limit - 1)
  redis.call('expire', KEYS[1], expiry)
  acquired = 1
  count = math.min(count + amount, limit)
  if not last then last = tostring(timestamp) end
end
local oldest = tostring(timestamp)
if count > 0 then oldest = tostring(tonumber(last)) end
return {acquired, oldest, count, redis.call('get', KEYS[2]) or '0'}
"""


class RateLimiter:
    """An app's counts: in Redis (one Lua script a limit, on the process's Redis client,
    tenants.jobs.outbox.redis_connection), in memory without REDIS_URL and while Redis fails
    (tried again after 1, 2, 4 … MAX_BACKOFF_SECONDS)."""

    def __init__(self) -> None:
        self.memory = MemoryStorage()
        self.script = None  # registered on the first client it runs on; any client runs it
        self.failures = 0
        self.retry_at = 0.0

    def hit(self, item: RateLimitItem, caller: str) -> tuple[bool, float, int]:
        """Count one request of ``caller`` against ``item``: whether it is allowed, the
        oldest request still in the window (a time) and how many the window holds."""
        key = item.key_for(_PREFIX, caller)
        if current_app.config.get("REDIS_URL") and time.monotonic() >= self.retry_at:
            try:
                client = redis_connection()
                if self.script is None:
                    self.script = client.register_script(ACQUIRE_AND_READ)
                acquired, oldest, count, generation = self.script(
                    [f"LIMITS:{key}", key_cache.GENERATION_KEY],
                    [time.time(), item.amount, item.get_expiry(), 1],
                    client=client,
                )
            except redis.RedisError as error:
                if not self.failures:
                    log.warning("rate limit: Redis failed (%s); counting in memory", error)
                self.failures += 1
                self.retry_at = time.monotonic() + min(
                    2 ** (self.failures - 1), MAX_BACKOFF_SECONDS
                )
            else:
                if self.failures:
                    log.warning("rate limit: Redis answers again")
                self.failures = 0
                key_cache.saw_generation(generation)
                return bool(acquired), float(oldest), int(count)
        acquired = self.memory.acquire_entry(key, item.amount, item.get_expiry())
        oldest, count = self.memory.get_moving_window(key, item.amount, item.get_expiry())
        return acquired, oldest, count


@lru_cache(maxsize=8)
def _limits(setting: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(setting)) if setting else ()


def rate_key() -> str:
    """Whom a request counts against: its API key, else its remote address."""
    key = request_api_key()
    return f"key:{key.id}" if key is not None else f"ip:{request.remote_addr or '-'}"


def _limit_api_request() -> Response | None:
    """Before an API request: read its key (a database error is then the request's own),
    count it against each limit; 429 when one is spent. The window of the limit with the
    fewest requests left is kept for the X-RateLimit headers."""
    if request.blueprint != bp.name:
        return None
    request_api_key()
    items = _limits(current_app.config.get("API_RATE_LIMIT") or "")
    if not items:
        return None
    limiter: RateLimiter = current_app.extensions[EXTENSION]
    caller = rate_key()
    usage = None
    for item in items:
        acquired, oldest, count = limiter.hit(item, caller)
        reset_in = max(1, math.ceil(oldest + item.get_expiry() - time.time()))
        remaining = max(item.amount - count, 0)
        if usage is None or remaining < usage[1] or not acquired:
            usage = (item.amount, remaining, reset_in)
        if not acquired:
            break
    request.environ[_USAGE] = usage
    return None if acquired else rate_limited(usage[2])


def init_rate_limit(app: Flask) -> None:
    """The limiter of this app's API blueprint (not the web pages)."""
    _limits(app.config.get("API_RATE_LIMIT") or "")  # a bad setting fails at start (ValueError)
    app.extensions[EXTENSION] = RateLimiter()
    app.before_request(_limit_api_request)


@bp.after_request
def rate_headers(response: Response) -> Response:
    usage = request.environ.get(_USAGE)
    if usage is not None:
        limit, remaining, reset_in = usage
        response.headers["X-RateLimit-Limit"] = str(limit)
        response.headers["X-RateLimit-Remaining"] = str(remaining)
        response.headers["X-RateLimit-Reset"] = str(reset_in)
    return response


def rate_limited(retry_after: int) -> Response:
    message = ngettext(
        "Too many requests. Wait %(num)d second and try again.",
        "Too many requests. Wait %(num)d seconds and try again.",
        retry_after,
    )
    return error_response(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})
