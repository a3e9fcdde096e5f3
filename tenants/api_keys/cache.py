"""API keys remembered in each app process, revoked on every process at once.

Every API request presents a key; reading it from the database is a round trip per request
(bench B1). A process remembers the live keys it has read, by prefix, with the
**generation** it read in Redis just before reading the key: one number, shared by every
app server, raised (INCR) after the commit of any change that can end or suspend a key —
a key revoked, a reseller's or an organization's status changed. A remembered key is used
only when the generation the request reads now is the one it was remembered with; the
request reads it in the same Redis round trip as its rate limit (reseller.api.ratelimit),
or with one GET when the rate limit does not ask Redis. So once a revocation is committed,
the next request on any process reads the key from the database again and is refused.

Without REDIS_URL, or while Redis fails (then for REDIS_RETRY_SECONDS), nothing is
remembered or used: every request reads its key from the database, as before. A remembered
key is also forgotten after MAX_AGE_SECONDS, which bounds the one case the generation
cannot cover: Redis failing for the INCR alone while the other processes still reach it.
The secret is checked against the stored hash on every request (constant time); only live
keys are remembered, so a new key works at once without any invalidation.
"""

from __future__ import annotations

import dataclasses
import time

from flask import current_app, has_request_context, request
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from tenants.models import ApiKey, Organization, Reseller

GENERATION_KEY = "portal:api-keys:generation"
MAX_AGE_SECONDS = 30.0
_STALE = "api_keys_stale"  # session.info: this transaction changed a key, a reseller or an org
# request.environ (not g, which outlives a request where an app context is already pushed):
# the generation this request read in Redis.
_SEEN = "portal.api_key_generation"


@dataclasses.dataclass
class Remembered:
    key_hash: str
    key: object  # operations.PresentedKey
    generation: bytes
    at: float


def _state(app=None) -> dict:
    app = app or current_app
    return app.extensions.setdefault("portal_api_key_cache", {"keys": {}, "resting_until": 0.0})


def enabled() -> bool:
    return (
        bool(current_app.config.get("REDIS_URL")) and time.monotonic() >= _state()["resting_until"]
    )


def _failed() -> None:
    """Redis did not answer: remember nothing for a while, and forget what is remembered
    (a revocation may be committed meanwhile whose INCR this process cannot see)."""
    state = _state()
    state["keys"].clear()
    state["resting_until"] = time.monotonic() + float(
        current_app.config.get("REDIS_RETRY_SECONDS", 5)
    )


def saw_generation(value: bytes | str | int | None) -> None:
    """The rate limit's Redis round trip read the generation: kept for this request."""
    request.environ.setdefault(_SEEN, _normal(value))


def _normal(value) -> bytes:
    if value is None:
        return b"0"
    return value if isinstance(value, bytes) else str(value).encode()


def current_generation() -> bytes | None:
    """The generation now: the one this request's rate limit read, else one GET; None when
    Redis fails (nothing is remembered then)."""
    if not has_request_context():
        return None  # outside a request: nothing remembered is used
    if _SEEN in request.environ:
        return request.environ[_SEEN]
    from tenants.jobs.outbox import redis_connection

    try:
        value = _normal(redis_connection().get(GENERATION_KEY))
    except Exception:
        _failed()
        return None
    request.environ.setdefault(_SEEN, value)
    return value


def remembered(prefix: str):
    """The remembered entry for ``prefix`` (not yet checked against the generation)."""
    if not enabled():
        return None
    entry = _state()["keys"].get(prefix)
    if entry is not None and time.monotonic() - entry.at > MAX_AGE_SECONDS:
        _state()["keys"].pop(prefix, None)
        return None
    return entry


def remember(prefix: str, key_hash: str, key, generation: bytes) -> None:
    _state()["keys"][prefix] = Remembered(key_hash, key, generation, time.monotonic())


def forget(prefix: str) -> None:
    _state()["keys"].pop(prefix, None)


def touched(prefix: str, last_used_at) -> None:
    """The key's last use was just written: remember it, so the next requests skip it."""
    entry = _state()["keys"].get(prefix)
    if entry is not None:
        entry.key = dataclasses.replace(entry.key, last_used_at=last_used_at)


# -- invalidation ---------------------------------------------------------------------------


def _changes_keys(obj) -> bool:
    if isinstance(obj, ApiKey):
        return True
    if isinstance(obj, (Reseller, Organization)):
        return inspect(obj).attrs.status.history.has_changes()
    return False


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context) -> None:
    if session.info.get(_STALE):
        return
    for obj in (*session.dirty, *session.deleted):
        if _changes_keys(obj):
            session.info[_STALE] = True
            return


@event.listens_for(Session, "after_commit")
def _raise_generation(session: Session) -> None:
    """After the commit (never before: a process reading the key between an early INCR
    and the commit would remember the old row under the new generation); a savepoint
    released is not that commit."""
    if session.in_nested_transaction() or not session.info.pop(_STALE, False):
        return
    if not current_app or not current_app.config.get("REDIS_URL"):
        return
    _state()["keys"].clear()
    from tenants.jobs.outbox import redis_connection

    try:
        redis_connection().incr(GENERATION_KEY)
    except Exception:  # the others forget it within MAX_AGE_SECONDS
        current_app.logger.warning("could not raise the API keys' generation in Redis")
        _failed()


@event.listens_for(Session, "after_rollback")
def _drop_note(session: Session) -> None:
    if not session.in_nested_transaction():  # the whole transaction is undone
        session.info.pop(_STALE, None)
