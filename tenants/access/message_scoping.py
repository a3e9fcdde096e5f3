"""Who reads which messages (Send SMS): those of an organization the actor already reached
through scoping.get_organization; a plain member reads only their own. The history's
campaign filter names a campaign the actor may see (campaign_scoping): another
organization's, or one out of the actor's reach, is the same 404 as one that does not exist."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, select

from tenants.access import campaign_scoping
from tenants.access.actors import Actor
from tenants.access.scoping import get_one, sees_every_account
from tenants.models import CampaignRun, Message, Organization


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
    return get_one(actor, messages_query(actor, organization), Message, message_id)


def of_campaign(actor: Actor, organization: Organization, campaign_id) -> ColumnElement[bool]:
    """The clause keeping the messages a campaign's runs sent; NotFound unless the actor may
    see the campaign (get_campaign)."""
    campaign = campaign_scoping.get_campaign(actor, organization, campaign_id)
    return Message.id.in_(
        select(CampaignRun.message_id).where(
            CampaignRun.campaign_id == campaign.id,
            CampaignRun.organization_id == organization.id,
            CampaignRun.message_id.is_not(None),
        )
    )
