"""Staff and customers are different people (SPEC §2): the one rule, written once.

*Staff* is anyone with a platform staff row or a reseller staff row (of any reseller, active
or suspended). A *customer member* is anyone with a current membership (not removed) of an
organization that is not deleted, with or without portal access, in any reseller: a removed
member, or the member of a deleted organization, is no longer one.

Every service that makes a member (add a member, create an organization with its owner,
change a member's email) calls ``refuse_staff_as_member``; every service that makes staff
(reseller staff, platform staff, a new reseller's admin) calls ``refuse_customer_as_staff``.
Data from before the rule may still hold both: ``staff_user_ids`` keeps such a person out of
their member contexts (tenants.people.auth, tenants.web.session) and out of support sessions
(tenants.support.sessions), and ``overlaps`` lists them for ``flask people overlaps``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import CompoundSelect, Select, exists, select

from tenants.core.errors import Conflict, CustomerEmail, StaffEmail
from tenants.core.extensions import db
from tenants.models import (
    Member,
    Organization,
    OrganizationStatus,
    PlatformStaff,
    Reseller,
    ResellerStaff,
    User,
)
from tenants.people.users import find_user


def staff_user_ids() -> CompoundSelect:
    """The ids of every user who is platform or reseller staff (for ``in_`` / ``not_in``)."""
    return select(PlatformStaff.user_id).union(select(ResellerStaff.user_id))


def _current_memberships(*columns) -> Select:
    """``columns`` of the memberships that make a customer member: not removed, of an
    organization that is not deleted."""
    return (
        select(*columns)
        .select_from(Member)
        .join(Organization, Organization.id == Member.organization_id)
        .where(Member.removed_at.is_(None), Organization.status != OrganizationStatus.DELETED)
    )


def customer_user_ids() -> Select:
    """The ids of every user who is a customer member (for ``in_`` / ``not_in``)."""
    return _current_memberships(Member.user_id)


def _is_one_of(user_id: str, ids: Select | CompoundSelect) -> bool:
    return bool(db.session.scalar(select(exists().where(User.id == user_id, User.id.in_(ids)))))


def is_staff_user(user_id: str) -> bool:
    return _is_one_of(user_id, staff_user_ids())


def is_customer_user(user_id: str) -> bool:
    return _is_one_of(user_id, customer_user_ids())


def is_staff_email(email: str) -> bool:
    """Whether the person with this email (any case) is platform or reseller staff."""
    user = find_user(email or "")
    return user is not None and is_staff_user(user.id)


def is_customer_email(email: str) -> bool:
    """Whether the person with this email (any case) is a customer organization's member."""
    user = find_user(email or "")
    return user is not None and is_customer_user(user.id)


def refuse_staff_as_member(email: str, field: str = "email") -> str:
    """The email, unless it is staff's: StaffEmail (a 422 on ``field``)."""
    if is_staff_email(email):
        raise StaffEmail(field=field)
    return email


def refuse_customer_as_staff(email: str, field: str = "email") -> str:
    """The email, unless it is a customer member's: CustomerEmail (a 422 on ``field``)."""
    if is_customer_email(email):
        raise CustomerEmail(field=field)
    return email


# ---------------------------------------------------------------------------
# A person's shared details

# A person's details that live on their user, shared by every organization they belong to.
PERSONAL_FIELDS = ("name", "email", "mobile")


def known_elsewhere(user: User, organization_id: str | None) -> bool:
    """Whether the person is known outside this organization (another one, of any reseller,
    or staff)."""
    other_membership = exists().where(
        Member.user_id == user.id,
        Member.organization_id != organization_id,
        Member.removed_at.is_(None),
    )
    return bool(db.session.scalar(select(other_membership))) or is_staff_user(user.id)


def refuse_shared_person_edit(user: User, organization_id: str | None) -> None:
    """The one rule for a person's shared details (PERSONAL_FIELDS): changed for them by an
    organization's admins, its reseller's staff or staff acting as them (login-as) only
    while this organization is the only place the person is known (Conflict, 409); the
    person themselves changes them from their profile."""
    if known_elsewhere(user, organization_id):
        raise Conflict(
            _l(
                "This person also uses the portal elsewhere (another organization or staff), "
                "so only they can change their name, email and mobile, from their profile."
            )
        )


# ---------------------------------------------------------------------------
# What data from before the rule still holds


@dataclass(frozen=True)
class Overlap:
    """A person who is both staff and a customer member, and where."""

    email: str
    staff_roles: tuple[str, ...]  # "platform admin", "reseller Acme Telecom: agent"
    organizations: tuple[str, ...]  # "Acme SL (reseller Acme Telecom): owner"


def overlaps() -> list[Overlap]:
    """Every person who is both staff and a customer member, by email."""
    users = db.session.scalars(
        select(User)
        .where(User.id.in_(staff_user_ids()), User.id.in_(customer_user_ids()))
        .order_by(User.email)
    ).all()
    return [Overlap(user.email, _staff_roles(user.id), _organizations(user.id)) for user in users]


def _staff_roles(user_id: str) -> tuple[str, ...]:
    platform = db.session.scalars(
        select(PlatformStaff.role).where(PlatformStaff.user_id == user_id)
    ).all()
    resellers = db.session.execute(
        select(Reseller.name, ResellerStaff.role)
        .join(Reseller, Reseller.id == ResellerStaff.reseller_id)
        .where(ResellerStaff.user_id == user_id)
        .order_by(Reseller.name)
    ).all()
    return (
        *(f"platform {role.value}" for role in platform),
        *(f"reseller {name}: {role.value}" for name, role in resellers),
    )


def _organizations(user_id: str) -> tuple[str, ...]:
    rows = db.session.execute(
        _current_memberships(Organization.name, Reseller.name, Member.role)
        .join(Reseller, Reseller.id == Organization.reseller_id)
        .where(Member.user_id == user_id)
        .order_by(Organization.name)
    ).all()
    return tuple(f"{org} (reseller {reseller}): {role.value}" for org, reseller, role in rows)
