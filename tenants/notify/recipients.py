"""Who is told: an organization's owner, a reseller's admins, the language behind an address."""

from __future__ import annotations

from collections.abc import Iterable

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


def language_for(email: str, org: Organization, fallback: User | None = None) -> str:
    """The language of the person behind an address: their own, else the owner's, else the
    reseller's default."""
    reseller = db.session.get(Reseller, org.reseller_id)
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.lower()))
    person = user or fallback or owner_user(org)
    if person is None:
        languages = current_app.config["LANGUAGES"]
        if reseller and reseller.default_language in languages:
            return reseller.default_language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    return recipient_language(person, reseller)
