"""Passwords: the rule, reset and invitation links, setting one, and the reset email job."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import exists, select

from tenants.core.errors import InvalidToken, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Member, User
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.people.auth import normalize_email, revoke_all_sessions

MIN_PASSWORD_LENGTH = 10
PURPOSE_RESET = "password-reset"
PURPOSE_INVITE = "invitation"


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            fields={
                "password": str(
                    _l(
                        "Use at least %(n)d characters.",
                        n=MIN_PASSWORD_LENGTH,
                    )
                )
            }
        )
    if len(password) > 200:
        raise ValidationFailed(fields={"password": str(_l("Use at most 200 characters."))})


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def sign_link_data(purpose: str, data: dict) -> str:
    """A signed token for an emailed link (SECRET_KEY, salted per ``purpose``): what reset,
    invitation and ownership-transfer links carry."""
    return _serializer(purpose).dumps(data)


def read_link_data(token: str, purpose: str, max_age: int | None = None) -> dict:
    """The data ``sign_link_data`` signed for ``purpose`` (younger than ``max_age`` seconds
    when given), else InvalidToken."""
    try:
        data = _serializer(purpose).loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired) as exc:
        raise InvalidToken() from exc
    if not isinstance(data, dict):
        raise InvalidToken()
    return data


def make_password_token(user: User, purpose: str, member: Member | None = None) -> str:
    """A signed link token tied to the current password, so it works once only; an
    invitation to an organization names the membership and its invitation serial, so a
    revoked invitation's links stop working."""
    data = {"u": user.id, "f": user.password_fingerprint, "e": user.email}
    if member is not None:
        data |= {"m": member.id, "n": member.invitation_serial}
    return sign_link_data(purpose, data)


def _pending(*conditions) -> bool:
    """Whether a current membership with portal access has an invitation in force."""
    return bool(
        db.session.scalar(
            select(
                exists().where(
                    Member.removed_at.is_(None),
                    Member.portal_access.is_(True),
                    Member.invited_at.is_not(None),
                    *conditions,
                )
            )
        )
    )


def _invitation_open(user: User, data: dict) -> bool:
    """An invitation link works while its invitation is in force: the membership it names
    (same serial), or for a link naming none (staff, or sent before invitations were kept)
    any membership of the person's -- a person who is no member at all is staff."""
    if "m" in data:
        return _pending(
            Member.id == data["m"],
            Member.user_id == user.id,
            Member.invitation_serial == data.get("n"),
        )
    is_member = db.session.scalar(select(exists().where(Member.user_id == user.id)))
    return not is_member or _pending(Member.user_id == user.id)


def _token_data(token: str, purpose: str) -> tuple[User, dict]:
    max_age = current_app.config[
        "PASSWORD_RESET_MAX_AGE" if purpose == PURPOSE_RESET else "INVITATION_MAX_AGE"
    ]
    data = read_link_data(token, purpose, max_age)
    user = db.session.get(User, data.get("u"))
    # Tied to the password (works once) and to the address it was sent to (a corrected
    # email makes the link sent to the wrong address useless).
    if user is None or data.get("f") != user.password_fingerprint or data.get("e") != user.email:
        raise InvalidToken()
    if purpose == PURPOSE_INVITE and not _invitation_open(user, data):
        raise InvalidToken()
    return user, data


def user_for_token(token: str, purpose: str) -> User:
    return _token_data(token, purpose)[0]


def invited_member(token: str) -> Member | None:
    """The membership an invitation link names (None for a staff link, one sent before
    invitations were kept, or one that does not work)."""
    try:
        _user, data = _token_data(token, PURPOSE_INVITE)
    except InvalidToken:
        return None
    return db.session.get(Member, data["m"]) if "m" in data else None


def set_password_with_token(token: str, purpose: str, password: str) -> User:
    """Set a new password through a reset or invitation link; every other login ends."""
    user = user_for_token(token, purpose)
    validate_password(password)
    user.set_password(password)
    revoke_all_sessions(user.id)
    db.session.flush()
    return user


def request_password_reset(email: str) -> None:
    """Email a reset link if the address is known; say nothing either way (no enumeration)."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or not user.password_hash:
        return
    enqueue("send_password_reset", user_id=user.id)


def change_password(user: User, current: str, new: str, *, keep_token: str | None) -> None:
    if not user.check_password(current or ""):
        raise ValidationFailed(
            fields={"current_password": str(_l("The current password is not correct."))}
        )
    validate_password(new)
    user.set_password(new)
    revoke_all_sessions(user.id, except_token=keep_token)
    db.session.flush()


@job("send_password_reset")
def deliver_password_reset(user_id: str) -> None:
    user = db.session.get(User, user_id)
    if user is None:
        return
    token = make_password_token(user, PURPOSE_RESET)
    language = recipient_language(user)
    send_email_template(
        user.email,
        language,
        "password_reset",
        user=user,
        link=external_url("auth.reset_password", token=token),
        hours=current_app.config["PASSWORD_RESET_MAX_AGE"] // 3600 or 1,
    )
