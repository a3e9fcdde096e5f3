"""Finding or creating the person behind an email address."""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from tenants.core.errors import Conflict
from tenants.core.extensions import db
from tenants.core.validation import clean_email, clean_mobile, clean_text
from tenants.models import Member, PlatformStaff, ResellerStaff, User

# A person's details that live on their user, shared by every organization they belong to.
PERSONAL_FIELDS = ("name", "email", "mobile")


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def get_or_create_user(
    email: str, name: str, *, mobile: str | None = None, language: str | None = None
) -> tuple[User, bool]:
    """The user with this email (created without a password when new) and whether it is new."""
    email = clean_email(email)
    name = clean_text(name, "name", max_length=200)
    mobile = clean_mobile(mobile)
    user = find_user(email)
    if user is not None:
        return user, False
    user = User(email=email, name=name, mobile=mobile, language=language)
    db.session.add(user)
    db.session.flush()
    return user, True


def users_by_id(ids: Iterable[str | None]) -> dict[str, User]:
    """The users with these ids, by id (blank ids skipped; no query when none is left)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(wanted)))}


def known_elsewhere(user: User, organization_id: str | None) -> bool:
    """Whether the person is known outside this organization (another one, of any reseller,
    or staff)."""
    other_membership = exists().where(
        Member.user_id == user.id,
        Member.organization_id != organization_id,
        Member.removed_at.is_(None),
    )
    staff = exists().where(ResellerStaff.user_id == user.id)
    platform = exists().where(PlatformStaff.user_id == user.id)
    return bool(db.session.scalar(select(other_membership | staff | platform)))


def refuse_shared_person_edit(user: User, organization_id: str | None) -> None:
    """The one rule for a person's shared details (PERSONAL_FIELDS): changed for them by an
    organization's admins, its reseller's staff or staff acting as them only while this
    organization is the only place the person is known (Conflict, 409); the person
    themselves changes them from their profile."""
    if known_elsewhere(user, organization_id):
        raise Conflict(
            _l(
                "This person also uses the portal elsewhere (another organization or staff), "
                "so only they can change their name, email and mobile, from their profile."
            )
        )
