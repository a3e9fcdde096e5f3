"""Recording what services change: who, what, when, and each field before and after."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from tenants.access.actors import Actor
from tenants.access.policy import refuse_in_view_only
from tenants.core.extensions import db
from tenants.models import AuditEntry, Member, Organization


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def money(amount: Decimal, currency: str) -> dict[str, str]:
    """An amount as an audit value: with its currency, so it reads right in any locale."""
    return {"amount": str(amount), "currency": currency}


def diff(obj: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Apply ``values`` to ``obj`` and return ``{field: [before, after]}`` of what changed."""
    changes: dict[str, list[Any]] = {}
    for name, new in values.items():
        old = getattr(obj, name)
        if _plain(old) != _plain(new):
            changes[name] = [_plain(old), _plain(new)]
            setattr(obj, name, new)
    return changes


def record(
    actor: Actor,
    action: str,
    *,
    reseller_id: str | None = None,
    organization_id: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    changes: dict[str, Any] | None = None,
    support_session_id: str | None = None,
) -> AuditEntry:
    """Add one entry: who (the actor, and the staff member really acting in a support
    session), what (an action key of tenants.audit.labels) and ``{field: [before, after]}``.

    A change made in a support session belongs to the session's organization even when it
    is about a person (their profile): it is listed with the session and on the Audit tab.
    A view-only support session changes nothing: recording a change made as its actor is
    refused (the last line behind the web layer's refusal, tenants.access.policy).
    """
    refuse_in_view_only(actor)
    if actor.support_session_id and organization_id is None and reseller_id is None:
        organization_id, reseller_id = actor.organization_id, actor.reseller_id
    entry = AuditEntry(
        reseller_id=reseller_id,
        organization_id=organization_id,
        actor_user_id=actor.user_id,
        real_user_id=actor.real_user_id,
        api_key_id=actor.api_key_id,
        support_session_id=support_session_id or actor.support_session_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        changes={
            k: _plain(v) if not isinstance(v, list) else v for k, v in (changes or {}).items()
        },
    )
    db.session.add(entry)
    return entry


def record_on(
    actor: Actor,
    org: Organization,
    action: str,
    changes: dict[str, Any],
    *,
    target: Member | None = None,
) -> AuditEntry:
    """One change on an organization or on one of its members: the entry belongs to the
    organization and its reseller, so it is listed on the organization's Audit tab."""
    db.session.flush()  # what was created in this unit of work gets its id (jobs name it)
    return record(
        actor,
        action,
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="member" if target is not None else "organization",
        target_id=target.id if target is not None else org.id,
        changes=changes,
    )
