"""Who is told: an organization's owner, a reseller's admins, who receives an account notice,
and the language behind an address or of an organization."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from babel.languages import get_official_languages
from flask import current_app
from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import (
    Member,
    MemberRole,
    Organization,
    Reseller,
    ResellerRole,
    ResellerStaff,
    User,
)
from tenants.notify.emails import recipient_language


def owners_of(organizations: Iterable[Organization]) -> dict[str, Member]:
    """The current owner of each organization (user loaded) in one query: lists avoid N+1."""
    ids = [org.id for org in organizations]
    if not ids:
        return {}
    rows = db.session.execute(
        select(Member, User)
        .join(User, User.id == Member.user_id)
        .where(
            Member.organization_id.in_(ids),
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
    ).all()
    return {member.organization_id: member for member, _user in rows}


def owner_of(org: Organization) -> Member | None:
    """The organization's current owner, or None when it has none."""
    return owners_of([org]).get(org.id)


def owner_user(org: Organization) -> User | None:
    """The person who owns the organization now."""
    owner = owner_of(org)
    return owner.user if owner is not None else None


def admins_of(org: Organization) -> list[User]:
    """The people who run the organization: its owner and admins with portal access, owner
    first."""
    return list(
        db.session.scalars(
            select(User)
            .join(Member, Member.user_id == User.id)
            .where(
                Member.organization_id == org.id,
                Member.role.in_((MemberRole.OWNER, MemberRole.ADMIN)),
                Member.removed_at.is_(None),
                Member.portal_access.is_(True),
            )
            .order_by(Member.role != MemberRole.OWNER, User.email)
        )
    )


def reseller_admins(reseller_id: str) -> list[User]:
    return reseller_staff(reseller_id, ResellerRole.ADMIN)


def reseller_staff(reseller_id: str, role: ResellerRole | None = None) -> list[User]:
    """The reseller's staff (of one role, when given), who run its Customer app."""
    query = select(User).join(ResellerStaff, ResellerStaff.user_id == User.id)
    query = query.where(ResellerStaff.reseller_id == reseller_id)
    if role is not None:
        query = query.where(ResellerStaff.role == role)
    return list(db.session.scalars(query.order_by(User.email)))


def organization_language(org: Organization) -> str:
    """The organization's language: its country's (Spanish for a Spanish-speaking country)
    when the portal speaks it, else the reseller's default, else the portal's."""
    languages = current_app.config["LANGUAGES"]
    spoken = get_official_languages(org.country, de_facto=True) if org.country else ()
    for candidate in (*spoken, db.session.get(Reseller, org.reseller_id).default_language):
        if candidate in languages:
            return candidate
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def language_for(email: str, org: Organization, fallback: User | None = None) -> str:
    """The language of the person behind an address: their own, else the owner's, else the
    organization's."""
    reseller = db.session.get(Reseller, org.reseller_id)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    person = user or fallback or owner_user(org)
    if person is None:
        return organization_language(org)
    return recipient_language(person, reseller)


@dataclass(frozen=True)
class Recipient:
    """One address an account notice goes to; ``user_id`` when the notice names the person."""

    email: str
    user_id: str | None = None


def notice_recipients(
    org: Organization, people: Iterable[User | str] | None = None
) -> list[Recipient]:
    """Who receives an account notice (suspension, invoice ready, support session, campaign
    reports): ``people`` -- users or addresses, the owner when not given -- then the
    organization's notification email (seed 003); each address once (case-insensitively),
    in that order. Each notice is one job per recipient, run in the recipient's language
    (``language_for``), so a retried delivery never emails the others twice."""
    if people is None:
        owner = owner_user(org)
        people = [owner] if owner is not None else []
    recipients: dict[str, Recipient] = {}
    for person in [*people, org.notification_email]:
        if isinstance(person, User):
            recipient = Recipient(person.email, person.id)
        elif person:
            recipient = Recipient(person)
        else:
            continue
        recipients.setdefault(recipient.email.strip().lower(), recipient)
    return list(recipients.values())
