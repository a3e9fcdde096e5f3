"""An organization's pending invitations: listed with their expiry, resent, revoked.

An invitation is pending while the member is current, has portal access, has never set a
password and was invited (Member.invited_at) without the invitation being revoked since.
Its link expires INVITATION_MAX_AGE after the last sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.errors import Conflict
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import Member, Organization, User
from tenants.organizations.members import _current
from tenants.people import invitations as notifications


@dataclass(frozen=True)
class PendingInvitation:
    member: Member
    sent_at: datetime
    expires_at: datetime
    language: str

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()


def expires_at(sent_at: datetime) -> datetime:
    """When the link of an invitation sent at ``sent_at`` stops working."""
    return sent_at + timedelta(seconds=current_app.config["INVITATION_MAX_AGE"])


def is_pending(member: Member) -> bool:
    return (
        member.removed_at is None
        and member.portal_access
        and member.invited_at is not None
        and not member.user.password_hash
    )


def pending_invitations(actor: Actor, org: Organization) -> list[PendingInvitation]:
    """The organization's pending invitations the actor may see, oldest sending first."""
    members = db.session.scalars(
        scoping.members_query(actor, org)
        .join(User, User.id == Member.user_id)
        .where(
            Member.portal_access.is_(True),
            Member.invited_at.is_not(None),
            User.password_hash.is_(None),
        )
        .order_by(Member.invited_at, Member.id)
    )
    return [
        PendingInvitation(
            member,
            member.invited_at,
            expires_at(member.invited_at),
            notifications.invitation_language(member),
        )
        for member in members
    ]


def resend_invitation(actor: Actor, org: Organization, member: Member) -> None:
    """Email the invitation again (a fresh set-password link when no password is set yet,
    in force from now: its expiry moves); a revoked invitation is in force again."""
    require(actor, Permission.MANAGE_MEMBERS)
    _current(org, member)
    if not member.portal_access:
        raise Conflict(
            _l("This member has no portal access. Turn portal access on to invite them.")
        )
    audit.record_on(
        actor, org, "member.invitation_sent", {"email": [None, member.user.email]}, target=member
    )
    notifications.send_invitation(member)


def revoke_invitation(actor: Actor, org: Organization, member: Member) -> None:
    """Withdraw a pending invitation: the links sent no longer work. The person stays a
    member (Resend invites them again; Remove takes them out)."""
    require(actor, Permission.MANAGE_MEMBERS)
    _current(org, member)
    if not is_pending(member):
        raise Conflict(_l("This invitation is no longer pending."))
    notifications.withdraw_invitation(member)
    audit.record_on(
        actor, org, "member.invitation_revoked", {"email": [member.user.email, None]}, target=member
    )
