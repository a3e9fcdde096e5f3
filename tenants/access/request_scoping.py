"""Who reads which requests a person decides: client change requests and ownership
transfers, always of an organization the actor already reached through
scoping.get_organization (or, for a transfer, one asking the actor in person); another
organization's request is the same 404 as one that does not exist."""

from __future__ import annotations

from sqlalchemy import Select, select

from tenants.access.actors import Actor
from tenants.access.scoping import not_found
from tenants.core.errors import NotFound
from tenants.core.extensions import db
from tenants.core.types import is_record_id
from tenants.models import ChangeRequest, Member, Organization, OwnershipTransfer


def change_requests_query(actor: Actor, organization: Organization) -> Select:
    """Client change requests of an organization the actor already reached through
    get_organization (its admins and the reseller's staff read them), newest first."""
    return (
        select(ChangeRequest)
        .where(
            ChangeRequest.organization_id == organization.id,
            ChangeRequest.reseller_id == organization.reseller_id,
        )
        .order_by(ChangeRequest.requested_at.desc(), ChangeRequest.id.desc())
    )


def get_change_request(actor: Actor, organization: Organization, request_id) -> ChangeRequest:
    """A change request of the organization, else NotFound (another organization's too)."""
    if not is_record_id(request_id):  # a form field: anything may arrive
        raise NotFound()
    found = db.session.scalar(
        change_requests_query(actor, organization).where(ChangeRequest.id == request_id)
    )
    if found is None:
        raise not_found(actor, ChangeRequest, request_id)
    return found


def ownership_transfers_query(actor: Actor, organization: Organization | None = None) -> Select:
    """Ownership transfers of an organization the actor reached (get_organization), newest
    first; without one, those asking the actor in person (never acting) to become an owner."""
    if organization is not None:
        where = [OwnershipTransfer.organization_id == organization.id]
        where.append(OwnershipTransfer.reseller_id == organization.reseller_id)
    else:
        person = Member.user_id == (None if actor.is_acting else actor.user_id)
        where = [OwnershipTransfer.to_member_id.in_(select(Member.id).where(person))]
    query = select(OwnershipTransfer).where(*where)
    return query.order_by(OwnershipTransfer.requested_at.desc(), OwnershipTransfer.id.desc())


def get_ownership_transfer(actor: Actor, transfer_id, organization=None) -> OwnershipTransfer:
    """One of them, else NotFound (another organization's, or another person's, too)."""
    query = ownership_transfers_query(actor, organization)
    found = is_record_id(transfer_id) and db.session.scalar(query.filter_by(id=transfer_id))
    if not found:
        raise not_found(actor, OwnershipTransfer, transfer_id)
    return found
