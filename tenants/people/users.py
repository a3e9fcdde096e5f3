"""Finding or creating the person behind an email address."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from tenants.core.extensions import db
from tenants.core.validation import clean_email, clean_mobile, clean_text
from tenants.models import User


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
