"""Rate limiting per API key: a fixed-window counter in Redis, or in the database.

Both stores are shared by every app server. ``API_RATE_LIMIT`` reads like ``600/minute``,
``10/second``, ``5000/hour`` or ``100/30s``; an empty value turns limiting off.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import redis_connection
from tenants.models import ApiRateCounter

log = logging.getLogger(__name__)

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class RateLimited(DomainError):
    code = "rate_limited"
    status = 429
    default_message = _l("Too many requests.")

    def __init__(self, retry_after: int):
        super().__init__(
            _l("Too many requests. Wait %(seconds)d seconds and try again.", seconds=retry_after)
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


@dataclass(frozen=True)
class Usage:
    limit: int
    remaining: int
    reset_in: int


@lru_cache(maxsize=32)  # read on every API request; the setting rarely changes
def parse_limit(text: str | None) -> Limit | None:
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(?:(\d+)\s*s|(second|minute|hour|day)s?)\s*", text)
    if not match:
        raise ValueError(f"API_RATE_LIMIT {text!r}: use e.g. 600/minute or 100/30s")
    seconds = int(match.group(2)) if match.group(2) else PERIODS[match.group(3)]
    return Limit(int(match.group(1)), max(seconds, 1))


def _redis_hit(api_key_id: str, window: int, seconds: int) -> int:
    name = f"api-rate:{api_key_id}:{window}"
    # INCR and EXPIRE in one MULTI/EXEC: one round trip, and no counter left without expiry.
    pipe = redis_connection().pipeline()
    pipe.incr(name)
    pipe.expire(name, seconds + 1)
    count, _ = pipe.execute()
    return int(count)


def _database_hit(api_key_id: str, window: int) -> int:
    """Count one request in its own committed transaction (call with nothing pending)."""
    bump = (
        update(ApiRateCounter)
        .where(ApiRateCounter.api_key_id == api_key_id, ApiRateCounter.window_start == window)
        .values(count=ApiRateCounter.count + 1)
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(bump).rowcount == 0:
        try:
            with db.session.begin_nested():
                db.session.add(ApiRateCounter(api_key_id=api_key_id, window_start=window, count=1))
        except IntegrityError:  # another server opened the window first
            db.session.execute(bump)
        db.session.execute(
            delete(ApiRateCounter)
            .where(ApiRateCounter.api_key_id == api_key_id, ApiRateCounter.window_start < window)
            .execution_options(synchronize_session=False)
        )
    count = db.session.scalar(
        select(ApiRateCounter.count).where(
            ApiRateCounter.api_key_id == api_key_id, ApiRateCounter.window_start == window
        )
    )
    db.session.commit()
    return int(count or 0)


def hit(api_key_id: str) -> Usage | None:
    """Count a request of this key; raises RateLimited past the limit."""
    limit = parse_limit(current_app.config.get("API_RATE_LIMIT", "600/minute"))
    if limit is None:
        return None
    now = time.time()
    window = int(now // limit.seconds)
    reset_in = max(1, math.ceil((window + 1) * limit.seconds - now))
    count = None
    if current_app.config.get("REDIS_URL"):
        try:
            count = _redis_hit(api_key_id, window, limit.seconds)
        except Exception:  # Redis unreachable: the database still counts for every server.
            log.warning("rate limiting falls back to the database: Redis unreachable")
    if count is None:
        count = _database_hit(api_key_id, window)
    if count > limit.count:
        raise RateLimited(reset_in)
    return Usage(limit=limit.count, remaining=limit.count - count, reset_in=reset_in)
