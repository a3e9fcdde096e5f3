"""API: an organization's members — list, add, read, edit, remove."""

from __future__ import annotations

from typing import Any

from flask import Response
from sqlalchemy.orm import joinedload

from reseller.api import schemas, serializers
from reseller.api.core import done, endpoint
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.extensions import db
from tenants.models import Member
from tenants.organizations import members as services

TAG = "Members"
MEMBERS = "/organizations/<org_id>/members"
MEMBER = f"{MEMBERS}/<member_id>"


@endpoint(
    MEMBERS,
    "GET",
    summary="List members",
    tag=TAG,
    query=schemas.MEMBER_QUERY,
    response=schemas.MEMBER_PAGE,
)
def list_members(actor: Actor, org_id: str, query: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    limit = query.get("limit", 50)
    rows = scoping.members_query(actor, org).options(joinedload(Member.user))
    if "cursor" in query:
        rows = rows.where(Member.id > query["cursor"])
    page = db.session.scalars(rows.order_by(Member.id).limit(limit + 1)).all()
    next_cursor = page[limit - 1].id if len(page) > limit else None
    return done({"data": [serializers.member(m) for m in page[:limit]], "next_cursor": next_cursor})


@endpoint(
    MEMBERS,
    "POST",
    summary="Add a member",
    tag=TAG,
    body=schemas.MEMBER_CREATE,
    response=schemas.MEMBER,
    status=201,
    errors=(403,),
    description="With portal access, the person gets an invitation email to set a password.",
)
def add_member(actor: Actor, org_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = services.add_member(
        actor,
        org,
        name=body["name"],
        email=body["email"],
        role=body["role"],
        portal_access=body["portal_access"],
        mobile=body.get("mobile"),
    )
    return done(serializers.member(member), 201)


@endpoint(MEMBER, "GET", summary="Read a member", tag=TAG, response=schemas.MEMBER)
def get_member(actor: Actor, org_id: str, member_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    return done(serializers.member(member))


@endpoint(
    MEMBER,
    "PATCH",
    summary="Edit a member",
    tag=TAG,
    body=schemas.MEMBER_UPDATE,
    response=schemas.MEMBER,
    errors=(403, 409),
    description="Only the fields sent change. The owner's role changes only by a transfer.",
)
def update_member(actor: Actor, org_id: str, member_id: str, body: dict[str, Any]) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    services.update_member(actor, org, member, body)
    return done(serializers.member(member))


@endpoint(
    MEMBER,
    "DELETE",
    summary="Remove a member",
    tag=TAG,
    status=204,
    errors=(403, 409),
    description="The owner cannot be removed: 409 `owner_cannot_be_removed`.",
)
def remove_member(actor: Actor, org_id: str, member_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    services.remove_member(actor, org, member)
    return done(None, 204)
