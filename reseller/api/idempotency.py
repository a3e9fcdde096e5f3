"""``Idempotency-Key`` on POST: the first answer is stored and replayed, in the database.

The key row is inserted and committed *before* the request runs, so a concurrent duplicate
(on any app server) hits the unique (api_key_id, key) constraint and is refused with 409
``idempotency_key_in_progress`` instead of running twice. The answer is written in the
same transaction as the request's effect: either both are committed or neither. A request
that fails (4xx) stores nothing and frees the key, as Stripe does for refused requests.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from flask_babel import lazy_gettext as _l
from pydantic import StringConstraints, TypeAdapter, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tenants.core.errors import Conflict, DomainError
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import IdempotencyKey

KEY_LIFETIME = timedelta(hours=24)
# A claim with no answer this old was left by a server that died mid-request.
ABANDONED_AFTER = timedelta(seconds=60)
MAX_KEY_LENGTH = 255
# Printable ASCII without leading or trailing spaces: what the OpenAPI document states, and
# what survives every HTTP stack unchanged.
KEY_PATTERN = r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?"


class IdempotencyKeyInvalid(DomainError):
    code = "invalid_idempotency_key"
    status = 400
    default_message = _l("The Idempotency-Key header must be 1 to 255 printable characters.")


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"
    default_message = _l(
        "This Idempotency-Key was already used with another request. Use a new key."
    )


class IdempotencyKeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    default_message = _l("A request with this Idempotency-Key is still running. Retry in a moment.")


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: str


def request_hash(method: str, path: str, body: object) -> str:
    """Method, path and the body in canonical form (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


KEY = TypeAdapter(
    Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_KEY_LENGTH, pattern=f"^{KEY_PATTERN}$")
    ]
)


def check_key(value: str) -> str:
    try:
        return KEY.validate_python(value, strict=True)
    except ValidationError:
        raise IdempotencyKeyInvalid() from None


def claim(
    *, reseller_id: str, api_key_id: str, key: str, fingerprint: str
) -> tuple[str | None, StoredAnswer | None]:
    """Claim the key for this request: ``(row id, None)`` to go on, ``(None, answer)`` to
    replay the first answer; raises 409 when the key is busy or was used for another request.

    Runs in its own short transaction (committed here); call it with no pending changes.
    """
    now = utcnow()
    row = IdempotencyKey(
        reseller_id=reseller_id,
        api_key_id=api_key_id,
        key=key,
        request_hash=fingerprint,
        created_at=now,
        locked_at=now,
    )
    db.session.add(row)
    try:
        db.session.commit()
        if random.random() < 0.01:  # occasional housekeeping
            purge_expired()
        return row.id, None
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.api_key_id == api_key_id, IdempotencyKey.key == key
        )
    )
    if existing is None:  # removed meanwhile (failed request freed it): the caller retries
        raise IdempotencyKeyInProgress()
    expired = existing.created_at < now - KEY_LIFETIME
    abandoned = existing.response_status is None and (
        existing.locked_at is None or existing.locked_at < now - ABANDONED_AFTER
    )
    if not expired:
        if existing.request_hash != fingerprint:
            db.session.rollback()
            raise IdempotencyKeyReused()
        if existing.response_status is not None:
            answer = StoredAnswer(existing.response_status, existing.response_body or "")
            db.session.rollback()
            return None, answer
        if not abandoned:
            db.session.rollback()
            raise IdempotencyKeyInProgress()
    # Take the expired or abandoned row over; the compare-and-set lets one taker win.
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(
            IdempotencyKey.id == existing.id,
            IdempotencyKey.created_at == existing.created_at,
            IdempotencyKey.locked_at.is_(None)
            if existing.locked_at is None
            else IdempotencyKey.locked_at == existing.locked_at,
        )
        .values(
            request_hash=fingerprint,
            response_status=None,
            response_body=None,
            created_at=now,
            locked_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        raise IdempotencyKeyInProgress()
    return existing.id, None


def store_answer(row_id: str, status: int, body: str) -> None:
    """Record the answer in the request's own transaction (committed with its effect)."""
    db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == row_id)
        .values(response_status=status, response_body=body, locked_at=None)
        .execution_options(synchronize_session=False)
    )


def release(row_id: str) -> None:
    """Free the key after a refused or failed request (after its rollback)."""
    db.session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.id == row_id, IdempotencyKey.response_status.is_(None))
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def purge_expired() -> int:
    result = db.session.execute(
        delete(IdempotencyKey)
        .where(IdempotencyKey.created_at < utcnow() - KEY_LIFETIME)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount
