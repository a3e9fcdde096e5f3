"""Logging in and out: where a user may work, throttling, server-side sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update

from tenants.core.errors import AccessRefused, LoginRefused, LoginThrottled
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import (
    LoginFailure,
    Member,
    Organization,
    OrganizationStatus,
    PlatformStaff,
    Reseller,
    ResellerStaff,
    ResellerStatus,
    User,
    UserSession,
)
from tenants.people.identity import staff_user_ids


def normalize_email(email: str) -> str:
    return (email or "").strip().lower()


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------------------
# Contexts: where a user may work after logging in


@dataclass(frozen=True)
class Context:
    """One place a user can work in: ``platform``, ``reseller:<id>`` or ``member:<id>``."""

    key: str
    label: str


def available_contexts(user: User) -> list[Context]:
    """Every context the user may log in to right now, best first; staff get no member
    context (tenants.people.identity)."""
    contexts: list[Context] = []
    staff = db.session.scalar(select(PlatformStaff).where(PlatformStaff.user_id == user.id))
    if staff is not None:
        contexts.append(Context("platform", str(_l("Platform"))))
    rows = db.session.execute(
        select(ResellerStaff.id, Reseller.id, Reseller.name)
        .join(Reseller, Reseller.id == ResellerStaff.reseller_id)
        .where(ResellerStaff.user_id == user.id, Reseller.status == ResellerStatus.ACTIVE)
        .order_by(Reseller.name)
    ).all()
    contexts += [Context(f"reseller:{rid}", name) for _, rid, name in rows]
    rows = db.session.execute(
        select(Member.id, Organization.name)
        .join(Organization, Organization.id == Member.organization_id)
        .where(
            Member.user_id == user.id,
            Member.removed_at.is_(None),
            Member.portal_access.is_(True),
            Organization.status == OrganizationStatus.ACTIVE,
            # Staff reach a customer organization only through a support session, even
            # when data from before the rule makes them a member too (SPEC §2).
            Member.user_id.not_in(staff_user_ids()),
        )
        .order_by(Organization.name)
    ).all()
    contexts += [Context(f"member:{mid}", name) for mid, name in rows]
    return contexts


def refusal_reason(user: User) -> str:
    """Why a user with the right password still may not log in (a clear, translated message)."""
    memberships = db.session.execute(
        select(Member, Organization)
        .join(Organization, Organization.id == Member.organization_id)
        .where(Member.user_id == user.id, Member.removed_at.is_(None))
    ).all()
    suspended = sorted(
        (org for _, org in memberships if org.status == OrganizationStatus.SUSPENDED),
        key=lambda org: org.name,
    )
    if suspended:
        # The reason the suspend form promised to show the organization's members.
        org = next((org for org in suspended if org.suspension_reason), suspended[0])
        if org.suspension_reason:
            return str(
                _l(
                    "Your organization %(name)s is suspended (reason: %(reason)s). Please "
                    "contact your provider to reactivate it.",
                    name=org.name,
                    reason=org.suspension_reason,
                )
            )
        return str(
            _l("Your organization is suspended. Please contact your provider to reactivate it.")
        )
    if any(
        org.status == OrganizationStatus.ACTIVE and not member.portal_access
        for member, org in memberships
    ):
        return str(
            _l("Your account does not have portal access. Ask an administrator to enable it.")
        )
    if any(org.status == OrganizationStatus.DELETED for _, org in memberships):
        return str(_l("Your organization has been closed."))
    suspended_reseller = db.session.scalar(
        select(func.count())
        .select_from(ResellerStaff)
        .join(Reseller, Reseller.id == ResellerStaff.reseller_id)
        .where(ResellerStaff.user_id == user.id, Reseller.status == ResellerStatus.SUSPENDED)
    )
    if suspended_reseller:
        return str(_l("Your reseller account is suspended. Please contact the platform."))
    return str(_l("Your account has no access to the portal."))


# ---------------------------------------------------------------------------
# Throttling and password check


def _check_throttle(email: str) -> None:
    config = current_app.config
    since = utcnow() - timedelta(minutes=config["LOGIN_FAILURE_WINDOW_MINUTES"])
    failures = db.session.scalar(
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.email == email, LoginFailure.failed_at >= since)
    )
    if failures >= config["LOGIN_MAX_FAILURES"]:
        raise LoginThrottled()


def authenticate(email: str, password: str, ip_address: str | None = None) -> User:
    """The user for these credentials, or LoginThrottled / LoginRefused (nothing revealed)."""
    email = normalize_email(email)
    _check_throttle(email)
    user = db.session.scalar(select(User).where(User.email == email))
    if user is None or not user.check_password(password or ""):
        db.session.add(LoginFailure(email=email[:254], ip_address=ip_address))
        db.session.flush()
        raise LoginRefused()
    if not available_contexts(user):
        raise AccessRefused(refusal_reason(user))
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    return user


# ---------------------------------------------------------------------------
# Server-side sessions


def start_session(
    user: User, *, remember: bool = False, ip_address: str | None = None, user_agent: str = ""
) -> str:
    """Record a new login and return its token (what the cookie will carry)."""
    token = secrets.token_urlsafe(32)
    lifetime = (
        current_app.config["REMEMBER_COOKIE_DURATION"]
        if remember
        else current_app.config["PERMANENT_SESSION_LIFETIME"]
    )
    now = utcnow()
    db.session.add(
        UserSession(
            token_hash=_hash_token(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            remember=remember,
            ip_address=ip_address,
            user_agent=(user_agent or "")[:300],
            authenticated_at=now,
        )
    )
    db.session.flush()
    user.auth_token = token
    return token


def session_row(token: str | None) -> UserSession | None:
    """The live UserSession row of a token (None when revoked, expired or unknown)."""
    if not token or len(token) > 100:
        return None
    return db.session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _hash_token(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
        )
    )


def renew_session(user: User, token: str) -> tuple[str, bool]:
    """Swap a live session for a new token (same user, lifetime and last authentication)
    and revoke the old one: the session id changes when a login-as starts or ends.

    Returns the new token and whether the login was "remember me".
    """
    row = session_row(token)
    if row is None or row.user_id != user.id:
        raise LoginRefused()
    new_token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        UserSession(
            token_hash=_hash_token(new_token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=row.expires_at,
            remember=row.remember,
            ip_address=row.ip_address,
            user_agent=row.user_agent,
            authenticated_at=row.authenticated_at,
        )
    )
    row.revoked_at = now
    db.session.flush()
    user.auth_token = new_token
    return new_token, row.remember


def mark_authenticated(token: str | None) -> None:
    """Note that the person just proved who they are again (password or two-factor code)."""
    row = session_row(token)
    if row is not None:
        row.authenticated_at = utcnow()
        db.session.flush()


def check_throttle(email: str) -> None:
    """LoginThrottled after too many recent failures for this address (any step of login)."""
    _check_throttle(normalize_email(email))


def record_failure(email: str, ip_address: str | None = None) -> None:
    """Count a failed password, two-factor code or re-check towards the throttle."""
    db.session.add(LoginFailure(email=normalize_email(email)[:254], ip_address=ip_address))
    db.session.flush()


def clear_failures(email: str) -> None:
    db.session.execute(delete(LoginFailure).where(LoginFailure.email == normalize_email(email)))


def load_session_user(token: str) -> User | None:
    """The user of a live session token, or None when revoked, expired or unknown."""
    if not token or len(token) > 100:
        return None
    now = utcnow()
    row = db.session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _hash_token(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    )
    if row is None:
        return None
    user = row.user
    user.auth_token = token
    return user


def revoke_session(token: str | None) -> None:
    if not token:
        return
    db.session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _hash_token(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all_sessions(user_id: str, *, except_token: str | None = None) -> None:
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if except_token:
        query = query.where(UserSession.token_hash != _hash_token(except_token))
    db.session.execute(query.values(revoked_at=utcnow()))
