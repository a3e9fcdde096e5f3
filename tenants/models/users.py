"""People who log in, platform staff, and their server-side login sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class PlatformRole(enum.StrEnum):
    ADMIN = "admin"
    SUPPORT = "support"


class User(UserMixin, db.Model):
    """A person: one email, one password, any number of roles in any number of tenants."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("usr"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(200))
    mobile: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    company: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    platform_staff: Mapped[PlatformStaff | None] = relationship(
        back_populates="user", uselist=False
    )

    # The login session this object was loaded through (see tenants.people.auth); Flask-Login
    # stores get_id() in the cookie, so the cookie names a revocable session, not the user.
    auth_token = None

    def get_id(self) -> str:
        if not self.auth_token:
            raise RuntimeError("user has no login session")
        return self.auth_token

    def set_password(self, password: str) -> None:
        from flask import current_app

        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def password_fingerprint(self) -> str:
        """Changes whenever the password does: single-use reset and invitation links."""
        return (self.password_hash or "unset")[-16:]

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class PlatformStaff(db.Model):
    """A platform admin or support agent."""

    __tablename__ = "platform_staff"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("stf"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), unique=True)
    role: Mapped[PlatformRole] = mapped_column(enum_column_type(PlatformRole, "platform_role"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="platform_staff")


class UserSession(db.Model):
    """A server-side login: the cookie holds its token, so revoking the row logs that copy out."""

    __tablename__ = "user_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ses"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When the person last proved who they are (password, two-factor code, re-check):
    # starting a login-as needs a recent one. Kept when the token is renewed.
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    remember: Mapped[bool] = mapped_column(default=False)
    ip_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """One failed login, kept a short while to throttle guessing (shared by every app server)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_failed_at", "email", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(254))
    ip_address: Mapped[str | None] = mapped_column(String(64), index=True)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
