"""Who reads which messages (Send SMS): those of an organization the actor already reached
through scoping.get_organization; a plain member reads only their own."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from tenants.access.actors import Actor
from tenants.access.scoping import not_found, sees_every_account
from tenants.core.errors import NotFound
from tenants.core.extensions import db
from tenants.models import Message, Organization


def messages_query(actor: Actor, organization: Organization) -> Select:
    """The messages of an organization the actor reached (get_organization): all of them for
    those who see every account, a plain member's own otherwise."""
    query = select(Message).where(
        Message.organization_id == organization.id,
        Message.reseller_id == organization.reseller_id,
    )
    if sees_every_account(actor):
        return query
    if actor.member_id and actor.organization_id == organization.id:
        return query.where(Message.member_id == actor.member_id)
    return query.where(false())


def get_message(actor: Actor, organization: Organization, message_id: str) -> Message:
    """A message of the organization the actor may read, else NotFound."""
    if not isinstance(message_id, str) or len(message_id) > 40:
        raise NotFound()
    message = db.session.scalar(messages_query(actor, organization).where(Message.id == message_id))
    if message is None:
        raise not_found(actor, Message, message_id)
    return message
