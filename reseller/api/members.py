"""API: an organization's members — list, add, read, edit, remove."""

from __future__ import annotations

from flask import Response
from sqlalchemy.orm import joinedload

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint
from reseller.api.schemas import Member as MemberOut
from reseller.api.schemas import MemberCreate, MemberList, MemberUpdate
from reseller.api.spec import ListQuery
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
    query=ListQuery,
    response=MemberList,
)
def list_members(actor: Actor, org_id: str, query: ListQuery) -> Response:
    org = scoping.get_organization(actor, org_id)
    limit = query.limit
    rows = scoping.members_query(actor, org).options(joinedload(Member.user))
    if query.cursor is not None:
        rows = rows.where(Member.id > query.cursor)
    page = db.session.scalars(rows.order_by(Member.id).limit(limit + 1)).all()
    next_cursor = page[limit - 1].id if len(page) > limit else None
    return done({"data": [serializers.member(m) for m in page[:limit]], "next_cursor": next_cursor})


@endpoint(
    MEMBERS,
    "POST",
    summary="Add a member",
    tag=TAG,
    body=MemberCreate,
    response=MemberOut,
    status=201,
    errors=(403,),
    refusals={
        "mobile": "not a number of its country's numbering plan",
        "email": "already a member of the organization; the email of platform or reseller "
        "staff (code `staff_email`)",
    },
    description="With portal access, the person gets an invitation email to set a password.",
)
def add_member(actor: Actor, org_id: str, body: MemberCreate) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = services.add_member(actor, org, **body.model_dump())
    return done(serializers.member(member), 201)


@endpoint(MEMBER, "GET", summary="Read a member", tag=TAG, response=MemberOut)
def get_member(actor: Actor, org_id: str, member_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    return done(serializers.member(member))


@endpoint(
    MEMBER,
    "PATCH",
    summary="Edit a member",
    tag=TAG,
    body=MemberUpdate,
    response=MemberOut,
    errors=(403, 409),
    refusals={
        "mobile": "not a number of its country's numbering plan",
        "email": "the email of another account; of platform or reseller staff (`staff_email`)",
    },
    description="Only the fields sent change. The owner's role changes only by a transfer.",
)
def update_member(actor: Actor, org_id: str, member_id: str, body: MemberUpdate) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    services.update_member(actor, org, member, body.model_dump(exclude_unset=True))
    return done(serializers.member(member))


@endpoint(
    MEMBER,
    "DELETE",
    summary="Remove a member",
    tag=TAG,
    status=204,
    errors=(403, 409),
    description="The owner cannot be removed: 409 `owner_cannot_be_removed`. The member's "
    "individual credits go back to the system pool in the same step (a transfer referenced "
    "`member-removed`).",
)
def remove_member(actor: Actor, org_id: str, member_id: str) -> Response:
    org = scoping.get_organization(actor, org_id)
    member = scoping.get_member(actor, org, member_id)
    services.remove_member(actor, org, member)
    return done(None, 204)
