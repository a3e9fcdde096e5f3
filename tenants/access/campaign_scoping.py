"""Who sees which campaigns: those of an organization the actor already reached through
scoping.get_organization, for those who manage campaigns (org admins, reseller staff, keys);
another organization's campaign is the same 404 as one that does not exist."""

from __future__ import annotations

from sqlalchemy import Select, false, select

from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.access.scoping import get_one
from tenants.models import Campaign, CampaignRun, CampaignStatus, Organization


def campaigns_query(actor: Actor, organization: Organization) -> Select:
    """The organization's campaigns, for those who manage them (or approve them)."""
    query = select(Campaign).where(
        Campaign.organization_id == organization.id,
        Campaign.reseller_id == organization.reseller_id,
    )
    if can(actor, Permission.MANAGE_CAMPAIGNS) or can(actor, Permission.APPROVE_CAMPAIGNS):
        return query
    return query.where(false())


def get_campaign(actor: Actor, organization: Organization, campaign_id) -> Campaign:
    """A campaign of the organization the actor may see, else NotFound."""
    return get_one(actor, campaigns_query(actor, organization), Campaign, campaign_id)


def runs_query(actor: Actor, campaign: Campaign) -> Select:
    """The runs of a campaign the actor reached through get_campaign."""
    return select(CampaignRun).where(
        CampaignRun.campaign_id == campaign.id,
        CampaignRun.organization_id == campaign.organization_id,
    )


def pending_campaigns_query(actor: Actor, reseller_id: str) -> Select:
    """The campaigns waiting for the reseller's approval (the Customer app's list)."""
    if not can(actor, Permission.APPROVE_CAMPAIGNS) or actor.reseller_id != reseller_id:
        return select(Campaign).where(false())
    return select(Campaign).where(
        Campaign.reseller_id == reseller_id,
        Campaign.status == CampaignStatus.PENDING_APPROVAL,
    )
