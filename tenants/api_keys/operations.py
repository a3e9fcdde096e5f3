"""API keys: creating (shown once), revoking, and turning a presented secret into an actor.

A key looks like ``rk_live_<prefix>_<secret>`` (reseller) or ``ok_live_<prefix>_<secret>``
(organization). Only the SHA-256 of the whole key is stored. A reseller key acts as the
reseller's admin over its customers; an organization key as that organization's admin.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, or_, select, update

from tenants.access import scoping
from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import Permission, WhileActing, refuse_while_acting, require
from tenants.api_keys import cache
from tenants.audit import log as audit
from tenants.core.errors import (
    Conflict,
    InvalidApiKey,
    NotFound,
    OrganizationKeySuspended,
    ResellerKeySuspended,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_text
from tenants.models import (
    ApiKey,
    MemberRole,
    Organization,
    OrganizationStatus,
    Reseller,
    ResellerStatus,
)

RESELLER_KEY = "rk_live"
ORGANIZATION_KEY = "ok_live"
_KEY_PATTERN = re.compile(r"^(rk_live|ok_live)_([0-9a-f]{12})_([A-Za-z0-9_-]{20,100})$")
# Writing last_used_at on every request would make every API call a write; once a minute
# is precise enough for "last used".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _require_manage(actor: Actor, reseller: Reseller, organization: Organization | None) -> None:
    if organization is None:
        require(actor, Permission.MANAGE_RESELLER_SETTINGS)
        if actor is not SYSTEM and not actor.is_platform and actor.reseller_id != reseller.id:
            raise NotFound()
    else:
        require(actor, Permission.EDIT_ORGANIZATION_SETTINGS)
        if organization.reseller_id != reseller.id:
            raise NotFound()
        if actor.organization_id and actor.organization_id != organization.id:
            raise NotFound()


def create_api_key(
    actor: Actor,
    *,
    reseller: Reseller,
    organization: Organization | None = None,
    name: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never shown again."""
    refuse_while_acting(actor, WhileActing.CREATE_API_KEY)
    _require_manage(actor, reseller, organization)
    if organization is not None and organization.status == OrganizationStatus.DELETED:
        raise Conflict(_l("A deleted organization cannot get API keys."))
    name = clean_text(name, "name", max_length=100, required=False) or str(_l("API key"))
    kind = RESELLER_KEY if organization is None else ORGANIZATION_KEY
    prefix = f"{kind}_{secrets.token_hex(6)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        reseller_id=reseller.id,
        organization_id=organization.id if organization else None,
        name=name,
        prefix=prefix,
        key_hash=hash_secret(secret),
        created_by_user_id=actor.real_user_id or actor.user_id,
    )
    db.session.add(key)
    db.session.flush()
    audit.record(
        actor,
        "api_key.created",
        reseller_id=reseller.id,
        organization_id=key.organization_id,
        target_type="api_key",
        target_id=key.id,
        changes={"name": [None, name], "prefix": [None, prefix]},
    )
    return key, secret


def revoke_api_key(actor: Actor, key: ApiKey) -> None:
    """Revoke a key at once; revoking twice changes nothing."""
    reseller = db.session.get(Reseller, key.reseller_id)
    organization = (
        db.session.get(Organization, key.organization_id) if key.organization_id else None
    )
    _require_manage(actor, reseller, organization)
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    db.session.flush()
    audit.record(
        actor,
        "api_key.revoked",
        reseller_id=key.reseller_id,
        organization_id=key.organization_id,
        target_type="api_key",
        target_id=key.id,
        changes={"revoked_at": [None, key.revoked_at.isoformat()]},
    )


def list_api_keys(actor: Actor, reseller: Reseller, organization: Organization | None = None):
    """The reseller's own keys (organization None) or one organization's keys, newest first."""
    _require_manage(actor, reseller, organization)
    query = select(ApiKey).where(ApiKey.reseller_id == reseller.id)
    if organization is None:
        query = query.where(ApiKey.organization_id.is_(None))
    else:
        query = query.where(ApiKey.organization_id == organization.id)
    return db.session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()


def get_api_key(
    actor: Actor, reseller: Reseller, key_id: str, organization: Organization | None = None
) -> ApiKey:
    """One key of the same scope as list_api_keys, else NotFound."""
    if not isinstance(key_id, str) or len(key_id) > 40:
        raise NotFound()
    for key in list_api_keys(actor, reseller, organization):
        if key.id == key_id:
            return key
    raise scoping.not_found(actor, ApiKey, key_id)


def authenticate_api_key(secret: str | None) -> ApiKey | None:
    """The live (not revoked) key for this secret, or None; compares hashes in constant time."""
    if not isinstance(secret, str):
        return None
    match = _KEY_PATTERN.match(secret.strip())
    if match is None:
        return None
    prefix = f"{match.group(1)}_{match.group(2)}"
    key = db.session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    presented = hash_secret(secret.strip())
    if key is None:
        # Same work either way, so timing does not tell whether the prefix exists.
        hmac.compare_digest(presented, "0" * 64)
        return None
    if not hmac.compare_digest(presented, key.key_hash) or key.revoked_at is not None:
        return None
    return key


def actor_for_api_key(key: ApiKey) -> Actor:
    """The actor a live key acts as, refusing keys of suspended or deleted tenants.

    A suspended reseller or organization answers 403 with its own code (the key is valid
    but may not be used now); a deleted organization's keys are dead: 401.
    """
    reseller = db.session.get(Reseller, key.reseller_id)
    if reseller is None:
        raise InvalidApiKey()
    if reseller.status != ResellerStatus.ACTIVE:
        raise ResellerKeySuspended()
    if key.organization_id is None:
        return Actor(reseller_id=reseller.id, api_key_id=key.id)
    org = db.session.get(Organization, key.organization_id)
    if org is None or org.status == OrganizationStatus.DELETED:
        raise InvalidApiKey()
    if org.status == OrganizationStatus.SUSPENDED:
        raise OrganizationKeySuspended()
    return Actor(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        member_role=MemberRole.ADMIN,
        api_key_id=key.id,
    )


def touch_api_key(key: ApiKey) -> None:
    """Note the key's use (at most once a minute, to keep reads cheap)."""
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        db.session.flush()


# -- the API's hot path ------------------------------------------------------------------------


@dataclass(frozen=True)
class PresentedKey:
    """A live key found by :func:`resolve_api_key`, with what deciding its actor needs: read
    in one query (key, reseller and organization), no ORM objects built."""

    id: str
    reseller_id: str
    organization_id: str | None
    last_used_at: datetime | None
    reseller_status: ResellerStatus | None
    organization_status: OrganizationStatus | None
    organization_reseller_id: str | None = None
    prefix: str = ""
    # Set when remembered by this process (tenants.api_keys.cache): the generation it was
    # read under, to be compared with the generation now (confirm_api_key). None: read from
    # the database by this request.
    generation: bytes | None = None

    def actor(self) -> Actor:
        """The actor the key acts as; the same refusals as :func:`actor_for_api_key`."""
        if self.reseller_status is None:
            raise InvalidApiKey()
        if self.reseller_status != ResellerStatus.ACTIVE:
            raise ResellerKeySuspended()
        if self.organization_id is None:
            return Actor(reseller_id=self.reseller_id, api_key_id=self.id)
        status = self.organization_status
        if status is None or status == OrganizationStatus.DELETED:
            raise InvalidApiKey()
        if status == OrganizationStatus.SUSPENDED:
            raise OrganizationKeySuspended()
        return Actor(
            reseller_id=self.organization_reseller_id,
            organization_id=self.organization_id,
            member_role=MemberRole.ADMIN,
            api_key_id=self.id,
        )

    @property
    def needs_touch(self) -> bool:
        return self.last_used_at is None or utcnow() - self.last_used_at >= LAST_USED_RESOLUTION


@functools.cache
def _key_lookup():
    """Built once (every API request runs it): its compiled form is reused."""
    return (
        select(
            ApiKey.id,
            ApiKey.key_hash,
            ApiKey.revoked_at,
            ApiKey.reseller_id,
            ApiKey.organization_id,
            ApiKey.last_used_at,
            Reseller.status,
            Organization.status,
            Organization.reseller_id,
        )
        .outerjoin(Reseller, Reseller.id == ApiKey.reseller_id)
        .outerjoin(Organization, Organization.id == ApiKey.organization_id)
        .where(ApiKey.prefix == bindparam("prefix"))
    )


def resolve_api_key(secret: str | None) -> PresentedKey | None:
    """The live key for this secret with its tenants' status, or None — one query, or none
    when this process remembers the key (then ``generation`` is set: confirm_api_key).

    The same checks as :func:`authenticate_api_key` (hash compared in constant time, revoked
    keys refused); the reseller and the organization come in the same round trip.
    """
    if not isinstance(secret, str):
        return None
    secret = secret.strip()
    match = _KEY_PATTERN.match(secret)
    if match is None:
        return None
    prefix = f"{match.group(1)}_{match.group(2)}"
    presented = hash_secret(secret)
    entry = cache.remembered(prefix)
    if entry is not None:
        if not hmac.compare_digest(presented, entry.key_hash):
            return None
        return dataclasses.replace(entry.key, generation=entry.generation)
    # Read before the key: a revocation committed after this read raises it past this value.
    generation = cache.current_generation() if cache.enabled() else None
    row = db.session.execute(_key_lookup(), {"prefix": prefix}).first()
    if row is None:
        # Same work either way, so timing does not tell whether the prefix exists.
        hmac.compare_digest(presented, "0" * 64)
        return None
    key_id, key_hash, revoked_at, reseller_id, org_id, last_used, r_status, o_status, o_res = row
    if not hmac.compare_digest(presented, key_hash) or revoked_at is not None:
        return None
    key = PresentedKey(
        key_id, reseller_id, org_id, last_used, r_status, o_status, o_res, prefix=prefix
    )
    if generation is not None:
        cache.remember(prefix, key_hash, key, generation)
    return key


def confirm_api_key(key: PresentedKey, secret: str) -> PresentedKey | None:
    """A remembered key still stands when the generation now (read with the request's rate
    limit) is the one it was remembered under; else it is read again from the database."""
    if key.generation is None:
        return key
    if cache.current_generation() == key.generation:
        return key
    cache.forget(key.prefix)
    return resolve_api_key(secret)


def note_api_key_use(key: PresentedKey) -> bool:
    """Write ``last_used_at`` when it is older than LAST_USED_RESOLUTION; True when written.

    Conditional, so of concurrent requests that all saw an old value one writes (the others
    match no row). The caller commits: this is the only write of most API reads, and it
    happens at most once a minute per key.
    """
    if not key.needs_touch:
        return False
    now = utcnow()
    db.session.execute(
        update(ApiKey)
        .where(
            ApiKey.id == key.id,
            or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    cache.touched(key.prefix, now)
    return True
