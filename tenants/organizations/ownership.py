"""Changing an organization's owner (SPEC §2), used by the portal and the API.

Two ways, one result (the member becomes the owner, the old owner an admin, nothing else
moves):

* **At once**, by the reseller's staff or a reseller key (support cases): ``transfer_ownership``,
  with a reason kept in the audit entry. A request still waiting is cancelled by it.
* **Two steps**, started by the owner in the portal: ``start_ownership_transfer`` emails the
  chosen member a link; they accept or decline within ``TRANSFER_DAYS``; until then nothing
  changes and the owner (or the reseller's staff) may cancel. One request waits at a time per
  organization: a second one is refused until the first is answered, cancelled or expired
  (the owner cancels and asks again) -- replacing it silently would leave a live link in
  someone's mailbox that no longer means what it says.

A request's week is checked when it is acted on (accept, decline, cancel, a new request) and
by the hourly ``expire_ownership_transfers`` job; pages show a request past its week as
expired either way. Acceptance re-checks everything the request assumed: the person who
asked is still the owner, the member is still a current member with portal access, and
still no staff. Every step is audited and emailed (ownership_emails.py), each person in
their own language.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from tenants.access import request_scoping
from tenants.access.actors import SYSTEM, Actor
from tenants.access.policy import (
    Permission,
    WhileActing,
    can,
    refuse_in_view_only,
    refuse_while_acting,
    require,
)
from tenants.audit import log as audit
from tenants.core.errors import Conflict, Forbidden, InvalidToken, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_text
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    OwnershipTransfer,
    OwnershipTransferStatus,
)
from tenants.organizations.members import _current
from tenants.people.identity import is_staff_user
from tenants.people.passwords import read_link_data, sign_link_data

TRANSFER_DAYS = 7
LINK_PURPOSE = "ownership-transfer"
REASON_MAX_LENGTH = 500
EXPIRE_BATCH = 500

PENDING = OwnershipTransferStatus.PENDING


# -- reading ----------------------------------------------------------------------------------


def pending_transfer(actor: Actor, org: Organization) -> OwnershipTransfer | None:
    """The request waiting for an answer (perhaps past its week: ``is_due``), if any."""
    return db.session.scalar(
        request_scoping.ownership_transfers_query(actor, org)
        .where(OwnershipTransfer.status == PENDING)
        .limit(1)
    )


def asked_member(transfer: OwnershipTransfer) -> Member:
    """The member a request asks to become the owner."""
    return db.session.get(Member, transfer.to_member_id)


def asking_member(transfer: OwnershipTransfer) -> Member:
    """The owner who asked."""
    return db.session.get(Member, transfer.from_member_id)


def may_cancel(actor: Actor) -> bool:
    """The owner who asked, or the reseller's staff (who may change the owner anyway)."""
    return can(actor, Permission.REQUEST_OWNERSHIP_TRANSFER) or can(
        actor, Permission.TRANSFER_OWNERSHIP
    )


def link_token(transfer: OwnershipTransfer) -> str:
    """The signed token of the link emailed to the member asked (it names the request and the
    membership; it works once: an answered request is no longer pending)."""
    return sign_link_data(LINK_PURPOSE, {"t": transfer.id, "m": transfer.to_member_id})


def transfer_for_link(actor: Actor, token: str) -> OwnershipTransfer:
    """The request a link names, for the person it asks only; anything else is NotFound."""
    try:
        data = read_link_data(token, LINK_PURPOSE)
    except InvalidToken as exc:
        raise NotFound() from exc
    transfer = request_scoping.get_ownership_transfer(actor, data.get("t"))
    if transfer.to_member_id != data.get("m"):
        raise NotFound()
    return transfer


def _member_field_error(message) -> ValidationFailed:
    return ValidationFailed(message, fields={"member": str(message)})


def _check_candidate(org: Organization, member: Member) -> None:
    """A current member with portal access, not the owner, not staff (SPEC §2)."""
    _current(org, member)
    if member.role == MemberRole.OWNER:
        raise Conflict(_l("This member is already the owner."))
    if not member.portal_access:
        raise _member_field_error(_l("Ownership can only go to a member with portal access."))
    if is_staff_user(member.user_id):
        raise _member_field_error(
            _l("This person is staff of the platform or a reseller and cannot own an organization.")
        )


def _locked_owner(org: Organization) -> Member | None:
    """The owner's row, locked: two changes of owner at once cannot both proceed."""
    return db.session.scalar(
        select(Member)
        .where(
            Member.organization_id == org.id,
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
        .with_for_update()
    )


def _make_owner(org: Organization, old_owner: Member, member: Member) -> dict[str, list]:
    """Swap the roles (the database allows one owner: demote first, then promote); returns
    the audit changes."""
    previous_role = member.role
    old_owner.role = MemberRole.ADMIN
    db.session.flush()
    member.role = MemberRole.OWNER
    org.owner_email = member.user.email
    db.session.flush()
    return {
        "owner": [old_owner.user.email, member.user.email],
        "old_owner_role": [MemberRole.OWNER.value, MemberRole.ADMIN.value],
        "new_owner_role": [previous_role.value, MemberRole.OWNER.value],
    }


def _end(
    transfer: OwnershipTransfer,
    status: OwnershipTransferStatus,
    user_id: str | None,
    now: datetime,
) -> bool:
    """Claim a pending request for its end (a conditional update: a double click, or the
    owner cancelling while the member accepts, ends it once); False if it had ended."""
    claimed = db.session.execute(
        update(OwnershipTransfer)
        .where(OwnershipTransfer.id == transfer.id, OwnershipTransfer.status == PENDING)
        .values(status=status, ended_by_user_id=user_id, ended_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(transfer)
    return bool(claimed)


def _already_ended() -> Conflict:
    return Conflict(_l("This request has already been answered, cancelled or has expired."))


def _audit(actor: Actor, org: Organization, action: str, transfer: OwnershipTransfer, **extra):
    member = db.session.get(Member, transfer.to_member_id)
    audit.record_on(
        actor, org, action, {"member": [None, member.user.email], **extra}, target=member
    )


def _email(transfer: OwnershipTransfer, step: str, *members: str) -> None:
    for member_id in members:
        enqueue(
            "send_ownership_transfer_email",
            transfer_id=transfer.id,
            member_id=member_id,
            step=step,
        )


# -- the verbs --------------------------------------------------------------------------------


def transfer_ownership(actor: Actor, org: Organization, member: Member, *, reason: str) -> None:
    """Make a current member with portal access the owner at once (the reseller's staff and
    keys, for support cases), with a reason kept in the audit entry; the old owner becomes an
    admin. Nothing else moves. A request still waiting is cancelled (its link stops working).
    """
    require(actor, Permission.TRANSFER_OWNERSHIP)
    refuse_while_acting(actor, WhileActing.TRANSFER_OWNERSHIP)
    reason = clean_text(reason, "reason", max_length=REASON_MAX_LENGTH, one_line=False)
    _check_candidate(org, member)
    old_owner = _locked_owner(org)
    if old_owner is None:
        raise Conflict(_l("The ownership changed meanwhile. Reload the page and try again."))
    db.session.refresh(member)
    _check_candidate(org, member)
    waiting = pending_transfer(actor, org)
    changes = _make_owner(org, old_owner, member)
    audit.record_on(
        actor, org, "organization.ownership_transferred", {**changes, "reason": [None, reason]}
    )
    if waiting is not None and _end(
        waiting, OwnershipTransferStatus.CANCELLED, actor.user_id, utcnow()
    ):
        _audit(actor, org, "ownership_transfer.cancelled", waiting)
        _email(waiting, "cancelled", waiting.to_member_id)


def start_ownership_transfer(
    actor: Actor, org: Organization, member: Member, *, now: datetime | None = None
) -> OwnershipTransfer:
    """The owner asks ``member`` to become the owner: nothing changes until they accept.

    Refused (409) while another request waits; one past its week expires first."""
    require(actor, Permission.REQUEST_OWNERSHIP_TRANSFER)
    refuse_while_acting(actor, WhileActing.TRANSFER_OWNERSHIP)
    now = now or utcnow()
    _check_candidate(org, member)
    owner = _locked_owner(org)
    if owner is None or owner.id != actor.member_id:
        raise Conflict(_l("The ownership changed meanwhile. Reload the page and try again."))
    waiting = pending_transfer(actor, org)
    if waiting is not None and not expire_if_due(waiting, now=now):
        raise Conflict(
            _l(
                "A request to change the ownership is already waiting for an answer. Cancel "
                "it first to ask someone else."
            )
        )
    transfer = OwnershipTransfer(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        from_member_id=owner.id,
        to_member_id=member.id,
        requested_by_user_id=actor.user_id,
        requested_at=now,
        expires_at=now + timedelta(days=TRANSFER_DAYS),
    )
    db.session.add(transfer)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # another request made at the same moment
        raise Conflict(
            _l("A request to change the ownership is already waiting for an answer.")
        ) from exc
    _audit(
        actor,
        org,
        "ownership_transfer.requested",
        transfer,
        expires_at=[None, transfer.expires_at.isoformat()],
    )
    _email(transfer, "started", member.id)
    return transfer


def _asked_member(actor: Actor, transfer: OwnershipTransfer) -> Member:
    """The member asked, when the actor is that person in their own name (not staff acting
    as them): anyone else gets NotFound, like for a request that does not exist."""
    member = db.session.get(Member, transfer.to_member_id)
    if (
        member is None
        or actor.real_user_id is not None
        or actor.user_id != member.user_id
        or actor.member_id != member.id
    ):
        raise NotFound()
    return member


def accept_ownership_transfer(
    actor: Actor, transfer: OwnershipTransfer, *, now: datetime | None = None
) -> None:
    """The member asked becomes the owner, the owner who asked an admin -- if that person is
    still the owner and the member still a current member with portal access (else 409)."""
    refuse_in_view_only(actor)
    member = _asked_member(actor, transfer)
    org = db.session.get(Organization, transfer.organization_id)
    now = now or utcnow()
    if not transfer.is_pending:
        raise _already_ended()
    if transfer.is_due(now):
        raise Conflict(_l("This request has expired."))
    if org.status != OrganizationStatus.ACTIVE:
        raise Conflict(_l("The organization is not active."))
    owner = _locked_owner(org)
    if owner is None or owner.id != transfer.from_member_id:
        raise Conflict(
            _l("The person who asked is no longer the owner: this request no longer holds.")
        )
    db.session.refresh(member)
    try:
        _check_candidate(org, member)
    except (NotFound, ValidationFailed, Conflict) as exc:
        raise Conflict(
            _l("You can no longer become the owner: your membership has changed.")
        ) from exc
    if not _end(transfer, OwnershipTransferStatus.ACCEPTED, actor.user_id, now):
        raise _already_ended()
    changes = _make_owner(org, owner, member)
    audit.record_on(actor, org, "ownership_transfer.accepted", changes, target=member)
    _email(transfer, "accepted", transfer.from_member_id)


def decline_ownership_transfer(
    actor: Actor, transfer: OwnershipTransfer, *, now: datetime | None = None
) -> None:
    """The member asked says no: nothing changes, the owner is told."""
    refuse_in_view_only(actor)
    _asked_member(actor, transfer)
    org = db.session.get(Organization, transfer.organization_id)
    now = now or utcnow()
    if transfer.is_due(now):
        raise Conflict(_l("This request has expired."))
    if not _end(transfer, OwnershipTransferStatus.DECLINED, actor.user_id, now):
        raise _already_ended()
    _audit(actor, org, "ownership_transfer.declined", transfer)
    _email(transfer, "declined", transfer.from_member_id)


def cancel_ownership_transfer(
    actor: Actor, org: Organization, transfer: OwnershipTransfer, *, now: datetime | None = None
) -> None:
    """The owner (or the reseller's staff) withdraws a waiting request: its link stops
    working; both people are told."""
    if not may_cancel(actor):
        raise Forbidden()
    refuse_in_view_only(actor)
    now = now or utcnow()
    if transfer.organization_id != org.id:
        raise NotFound()
    if transfer.is_due(now):
        raise Conflict(_l("This request has expired."))
    if not _end(transfer, OwnershipTransferStatus.CANCELLED, actor.user_id, now):
        raise _already_ended()
    _audit(actor, org, "ownership_transfer.cancelled", transfer)
    _email(transfer, "cancelled", transfer.to_member_id, transfer.from_member_id)


def expire_if_due(transfer: OwnershipTransfer, *, now: datetime | None = None) -> bool:
    """Mark a request past its week expired (audited as the platform, both people told);
    True if this call expired it. The caller commits."""
    now = now or utcnow()
    if not transfer.is_due(now):
        return False
    if not _end(transfer, OwnershipTransferStatus.EXPIRED, None, now):
        return False
    org = db.session.get(Organization, transfer.organization_id)
    _audit(SYSTEM, org, "ownership_transfer.expired", transfer)
    _email(transfer, "expired", transfer.to_member_id, transfer.from_member_id)
    return True


@job("expire_ownership_transfers")
def expire_ownership_transfers(now: datetime | None = None) -> int:
    """The hourly sweep: every request past its week is marked expired (and its people
    told) once; how many were."""
    now = now or utcnow()
    expired = 0
    while True:
        due = db.session.scalars(
            select(OwnershipTransfer)
            .where(OwnershipTransfer.status == PENDING, OwnershipTransfer.expires_at <= now)
            .order_by(OwnershipTransfer.expires_at, OwnershipTransfer.id)
            .limit(EXPIRE_BATCH)
        ).all()
        done = sum(expire_if_due(transfer, now=now) for transfer in due)
        expired += done
        if len(due) < EXPIRE_BATCH or not done:
            return expired
