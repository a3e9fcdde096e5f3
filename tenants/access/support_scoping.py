"""Who reads which login-as support sessions: those of an organization the actor already
reached through scoping.get_organization, or every customer's in its scope (platform staff:
every reseller's; reseller staff: its own)."""

from __future__ import annotations

from sqlalchemy import Select, select

from tenants.access.actors import SYSTEM, Actor
from tenants.models import Organization, SupportSession


def support_sessions_query(actor: Actor, organization: Organization | None = None) -> Select:
    """Login-as support sessions the actor may read: of one organization it already reached
    through get_organization, or (organization None) every customer in its scope."""
    query = select(SupportSession)
    if organization is not None:
        return query.where(
            SupportSession.organization_id == organization.id,
            SupportSession.reseller_id == organization.reseller_id,
        )
    if actor is SYSTEM or actor.is_platform:
        return query
    if actor.is_reseller_staff:
        return query.where(SupportSession.reseller_id == actor.reseller_id)
    return query.where(False)
