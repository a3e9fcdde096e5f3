"""API: organizations — list, create, read, edit, suspend, reactivate, delete, ownership."""

from __future__ import annotations

from flask import Response

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint, renamed_fields
from reseller.api.schemas import (
    Organization,
    OrganizationCreate,
    OrganizationList,
    OrganizationQuery,
    OrganizationUpdate,
    OwnershipTransfer,
    SuspendRequest,
)
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.errors import NotFound, ValidationFailed
from tenants.organizations import listing, ownership
from tenants.organizations import operations as services

TAG = "Organizations"
ORG = "/organizations/<org_id>"


@endpoint(
    "/organizations",
    "GET",
    summary="List organizations",
    tag=TAG,
    query=OrganizationQuery,
    response=OrganizationList,
    refusals={"cursor": "a page link this list did not give"},
    description="By name, or soonest to run out first with `sort=days_left` (no usage last). "
    "Days left are ordered up to ten years (3,650 days): organizations with more come after "
    "them, in id order, each with its exact `days_left`. "
    "An organization key sees only its own organization.",
)
def list_organizations(actor: Actor, query: OrganizationQuery) -> Response:
    orgs, next_cursor = listing.list_organizations(actor, **query.model_dump())
    return done({"data": serializers.organizations(orgs), "next_cursor": next_cursor})


@endpoint(
    "/organizations",
    "POST",
    summary="Create an organization",
    tag=TAG,
    body=OrganizationCreate,
    response=Organization,
    status=201,
    errors=(403, 409),
    reseller_only=True,
    refusals={
        "currency": "not given for a country without a currency of its own",
        "timezone": "not given for a country without a time zone of its own",
        "credit_limit": "more decimals than the organization's currency has",
        "owner.email": "the email of platform or reseller staff (code `staff_email`)",
    },
    description="The owner receives an invitation email to set a password. A postpaid "
    "organization starts with `credit_limit`, or when left out with the reseller's default "
    "for its currency (`default_credit_limit` in the price list).",
)
def create_organization(actor: Actor, body: OrganizationCreate) -> Response:
    reseller = scoping.get_reseller(actor, actor.reseller_id)
    billing = body.billing.model_dump(exclude_unset=True) if body.billing else {}
    data = services.NewOrganization(
        name=body.name,
        country=body.country,
        pricing_model=body.pricing_model,
        owner_name=body.owner.name,
        owner_email=body.owner.email,
        currency=body.currency,
        timezone=body.timezone,
        billing=services.BillingDetails(**billing),
        credit_limit=body.credit_limit,
    )
    org = services.create_organization(actor, reseller, data)
    return done(serializers.organization(org), 201)


@endpoint(ORG, "GET", summary="Read an organization", tag=TAG, response=Organization)
def get_organization(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    return done(serializers.organization(org))


@endpoint(
    ORG,
    "PATCH",
    summary="Edit an organization",
    tag=TAG,
    body=OrganizationUpdate,
    response=Organization,
    errors=(403, 409),
    refusals={
        "settings.notification_mobile": "not a number of its country's numbering plan",
        "credit_limit": "more decimals than the organization's currency has",
        "auto_top_up.enabled": "on for a postpaid organization",
        "auto_top_up.credits": "none to buy while automatic top-up is on",
        "auto_top_up.below": "0 while automatic top-up is on",
        "auto_top_up.monthly_limit": "above the platform's ceiling (AUTO_TOP_UP_MONTHLY_CAP)",
        "move_member_credits_to_pool": "sent without individual_user_credits false",
    },
    description="Only the fields sent change; a field set to null is cleared. Switching "
    "`individual_user_credits` off while members hold individual credits is refused with 409 "
    "`member_credits_remain` (the message says how many), unless "
    '`"move_member_credits_to_pool": true` moves them all to the system pool in the same step.',
)
def update_organization(actor: Actor, org_id: str, body: OrganizationUpdate) -> Response:
    org = scoping.get_organization(actor, org_id)
    values = body.changes()
    move = values.pop("move_member_credits_to_pool", False)
    services.update_organization(actor, org, values, move_member_credits_to_pool=move)
    return done(serializers.organization(org))


@endpoint(
    f"{ORG}/suspend",
    "POST",
    summary="Suspend an organization",
    tag=TAG,
    body=SuspendRequest,
    response=Organization,
    errors=(403, 409),
    reseller_only=True,
    description="Members can no longer log in; API keys and usage are refused; nothing is deleted.",
)
def suspend_organization(actor: Actor, org_id: str, body: SuspendRequest) -> Response:
    org = scoping.get_organization(actor, org_id)
    services.suspend_organization(actor, org, body.reason)
    return done(serializers.organization(org))


@endpoint(
    f"{ORG}/reactivate",
    "POST",
    summary="Reactivate a suspended organization",
    tag=TAG,
    response=Organization,
    errors=(403, 409),
    reseller_only=True,
)
def reactivate_organization(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    services.reactivate_organization(actor, org)
    return done(serializers.organization(org))


@endpoint(
    ORG,
    "DELETE",
    summary="Delete an organization",
    tag=TAG,
    status=204,
    errors=(403, 409),
    reseller_only=True,
    description="Refused with 409 `balance_not_zero` while it holds credits and "
    "`outstanding_debt` while it owes money. Ledger and invoices are kept.",
)
def delete_organization(actor: Actor, org_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    services.delete_organization(actor, org)
    return done(None, 204)


@endpoint(
    f"{ORG}/ownership",
    "POST",
    summary="Transfer the ownership",
    tag=TAG,
    body=OwnershipTransfer,
    response=Organization,
    errors=(403, 409),
    reseller_only=True,
    refusals={
        "member_id": "not a current member of the organization with portal access",
        "reason": "missing or blank",
    },
    description="At once, for support cases: a reseller key changes the owner to a member with "
    "portal access and gives the `reason` (kept in the audit log); the old owner becomes "
    "admin and a request the owner made in the portal and still waiting is cancelled. Nothing "
    "else moves (individual credits, other roles). An organization key is refused (403): the "
    "owner asks a member in the portal, who accepts or declines within 7 days.",
)
def transfer_ownership(actor: Actor, org_id: str, body: OwnershipTransfer) -> Response:
    org = scoping.get_organization(actor, org_id)
    try:
        member = scoping.get_member(actor, org, body.member_id)
    except NotFound as exc:
        raise ValidationFailed(fields={"member_id": str(NotFound.default_message)}) from exc
    try:
        ownership.transfer_ownership(actor, org, member, reason=body.reason)
    except ValidationFailed as error:
        raise renamed_fields(error, {"member": "member_id"}) from None
    return done(serializers.organization(org))
