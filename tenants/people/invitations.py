"""Invitations: asked for with the change that adds a person, emailed by a job in their language.

An organization's invitation is kept on the membership (Member.invited_at, its language and
serial: tenants.organizations.invitations lists, resends and revokes it); its link names the
membership, so it works only while that invitation is in force (tenants.people.passwords).
"""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    Member,
    Organization,
    OrganizationStatus,
    PlatformStaff,
    Reseller,
    ResellerStaff,
    User,
)
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import organization_language
from tenants.people.auth import normalize_email
from tenants.people.passwords import (
    PURPOSE_INVITE,
    invited_member,
    make_password_token,
    request_password_reset,
    set_password_with_token,
)

# -- requests: record a job in the current transaction -------------------------------


def send_invitation(member: Member, language: str | None = None) -> None:
    """Invite a member (again): the invitation is in force from now, in ``language`` when
    the inviter chose one (kept for resending), else in the organization's language."""
    member.invited_at = utcnow()
    if language:
        member.invitation_language = language
    db.session.flush()
    enqueue("send_invitation", member_id=member.id)


def withdraw_invitation(member: Member) -> None:
    """No invitation in force any more: the links sent so far stop working."""
    member.invited_at = None
    member.invitation_serial += 1
    db.session.flush()


def send_staff_invitation(user: User, reseller: Reseller | None = None) -> None:
    """Invite staff: of a reseller (named in the email) or of the platform."""
    enqueue("send_invitation", user_id=user.id, reseller_id=reseller.id if reseller else None)


def forgotten_password(email: str) -> None:
    """Forgot password: a reset link for a person with a password; for one who never
    accepted their invitation, the invitations in force again (organizations still active)
    or the staff invitation; nothing for an unknown address. The caller says the same
    whatever happened (no enumeration)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or user.password_hash:
        request_password_reset(email)
        return
    pending = db.session.scalars(
        select(Member)
        .join(Organization, Organization.id == Member.organization_id)
        .where(
            Member.user_id == user.id,
            Member.removed_at.is_(None),
            Member.portal_access.is_(True),
            Member.invited_at.is_not(None),
            Organization.status == OrganizationStatus.ACTIVE,
        )
        .order_by(Member.id)
    ).all()
    for member in pending:
        send_invitation(member)
    if pending:
        return
    for staff in db.session.scalars(select(ResellerStaff).where(ResellerStaff.user_id == user.id)):
        send_staff_invitation(user, db.session.get(Reseller, staff.reseller_id))
    if db.session.scalar(select(PlatformStaff.id).where(PlatformStaff.user_id == user.id)):
        send_staff_invitation(user)


def link_language(token: str) -> str | None:
    """The language of the organization's invitation a link belongs to (None for a staff
    link, one sent before invitations were kept, or one that does not work)."""
    member = invited_member(token)
    return invitation_language(member) if member is not None else None


def accept_invitation(token: str, password: str, language: str) -> User:
    """Set the password through an invitation link. A person invited to an organization
    keeps the language they accepted in (the invitation's, unless they switched)."""
    member = invited_member(token)
    user = set_password_with_token(token, PURPOSE_INVITE, password)
    if member is not None and language in current_app.config["LANGUAGES"]:
        user.language = language
    return user


# -- delivery: run by a job ---------------------------------------------------------------


def invitation_language(member: Member) -> str:
    """The language of a member's invitation: the inviter's choice, else the organization's
    (Spanish for a Spanish-speaking country)."""
    if member.invitation_language in current_app.config["LANGUAGES"]:
        return member.invitation_language
    return organization_language(member.organization)


def _language(user: User, member: Member | None, reseller: Reseller | None) -> str:
    """A person who never logged in is invited in the invitation's language; one who has
    a password in the inviter's choice, else their own (so is staff)."""
    if member is not None and (not user.password_hash or member.invitation_language):
        return invitation_language(member)
    return recipient_language(user, reseller)


@job("send_invitation")
def deliver_invitation(
    member_id: str | None = None, user_id: str | None = None, reseller_id: str | None = None
) -> None:
    member = db.session.get(Member, member_id) if member_id else None
    user = member.user if member else db.session.get(User, user_id)
    if user is None or (member is not None and member.invited_at is None):
        return  # revoked meanwhile: its link would not work
    organization = member.organization if member else None
    reseller = organization.reseller if organization else None
    if reseller is None and reseller_id:
        reseller = db.session.get(Reseller, reseller_id)
    language = _language(user, member, reseller)
    if user.password_hash:
        link = external_url("auth.login")
    else:
        token = make_password_token(user, PURPOSE_INVITE, member)
        link = external_url("auth.accept_invitation", token=token)
    with force_locale(language):
        if organization is not None:
            place = organization.name
        elif reseller is not None:
            brand = reseller.brand_name or reseller.name
            place = _("the %(reseller)s reseller portal", reseller=brand)
        else:
            place = _("the platform administration")
    send_email_template(
        user.email,
        language,
        "invitation",
        user=user,
        place=place,
        link=link,
        has_password=bool(user.password_hash),
        days=current_app.config["INVITATION_MAX_AGE"] // 86400 or 1,
    )
