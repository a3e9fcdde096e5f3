"""Two-factor authentication for staff: TOTP enrolment, codes, recovery codes, the rule."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

import pyotp
import qrcode
import qrcode.image.svg
from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import delete, exists, select

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.errors import Conflict, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import (
    PlatformSettings,
    PlatformStaff,
    RecoveryCode,
    ResellerStaff,
    TotpCredential,
    User,
)

ISSUER = "SMS Reseller Portal"
RECOVERY_CODE_COUNT = 10
# Accept the previous and the next 30-second step too: phone clocks drift.
VALID_WINDOW = 1
# How long a set-up page stays good for confirming (seconds).
ENROLMENT_MAX_AGE = 30 * 60


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalize(code: str | None) -> str:
    return re.sub(r"[\s-]", "", str(code or "")).lower()[:32]


def is_staff(user: User) -> bool:
    """Platform or reseller staff anywhere (two-factor is offered to staff)."""
    platform = exists().where(PlatformStaff.user_id == user.id)
    reseller = exists().where(ResellerStaff.user_id == user.id)
    return bool(db.session.scalar(select(platform | reseller)))


def credential(user: User) -> TotpCredential | None:
    return db.session.scalar(select(TotpCredential).where(TotpCredential.user_id == user.id))


def is_enrolled(user: User) -> bool:
    cred = credential(user)
    return cred is not None and cred.confirmed_at is not None


def remaining_recovery_codes(user: User) -> int:
    return len(
        db.session.scalars(
            select(RecoveryCode.id).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        ).all()
    )


# -- the platform's rule ----------------------------------------------------------------


def staff_two_factor_required() -> bool:
    settings = db.session.get(PlatformSettings, 1)
    return bool(settings and settings.require_staff_two_factor)


def set_staff_two_factor_required(actor: Actor, required: bool) -> bool:
    """Platform admins only; returns whether anything changed."""
    require(actor, Permission.MANAGE_PLATFORM)
    settings = db.session.get(PlatformSettings, 1)
    if settings is None:
        settings = PlatformSettings(id=1, require_staff_two_factor=False)
        db.session.add(settings)
    changes = audit.diff(settings, {"require_staff_two_factor": bool(required)})
    if changes:
        settings.updated_at = utcnow()
        db.session.flush()
        audit.record(actor, "platform.settings_updated", target_type="platform", changes=changes)
    return bool(changes)


def must_enrol(user: User) -> bool:
    """Whether this person must enrol before getting in (the rule is on and they are staff)."""
    return staff_two_factor_required() and is_staff(user) and not is_enrolled(user)


# -- enrolment --------------------------------------------------------------------------


def _enrolment_signer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="two-factor-enrolment")


def new_enrolment(user: User) -> tuple[str, str]:
    """A fresh secret to scan and the signed token the confirming form sends back.

    Nothing is stored until a first code confirms the secret (opening the set-up page
    changes nothing); the token names the user and expires after ENROLMENT_MAX_AGE.
    """
    if is_enrolled(user):
        raise Conflict(_l("Two-factor authentication is already on."))
    secret = pyotp.random_base32()
    return secret, _enrolment_signer().dumps({"u": user.id, "s": secret})


def enrolment_secret(user: User, token: str | None) -> str | None:
    """The secret a set-up token carries, when it is this user's and not expired."""
    if not isinstance(token, str) or not token:
        return None
    try:
        data = _enrolment_signer().loads(token, max_age=ENROLMENT_MAX_AGE)
    except BadData:
        return None
    if not isinstance(data, dict) or data.get("u") != user.id:
        return None
    secret = data.get("s")
    return secret if isinstance(secret, str) and re.fullmatch(r"[A-Z2-7]{16,64}", secret) else None


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str) -> str:
    """The otpauth:// link as an inline SVG (no image library, no script)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    return image.to_string(encoding="unicode")


def _accept_totp(cred: TotpCredential, code: str) -> bool:
    """Check a 6-digit code against the secret; the same step is never accepted twice."""
    if not re.fullmatch(r"\d{6}", code):
        return False
    totp = pyotp.TOTP(cred.secret)
    now = time.time()
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        at = now + offset * totp.interval
        step = int(at) // totp.interval
        if hmac.compare_digest(totp.at(int(at)), code):
            if cred.last_used_step is not None and step <= cred.last_used_step:
                return False
            cred.last_used_step = step
            return True
    return False


def confirm_enrolment(user: User, code: str, token: str | None) -> list[str]:
    """Turn two-factor on with the set-up token and a first code; returns the recovery codes
    (shown once)."""
    secret = enrolment_secret(user, token)
    if secret is None:
        raise Conflict(_l("The set-up expired. Scan the new QR code and enter a code again."))
    # One enrolment at a time per person: a second tab confirming at once waits here.
    db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    cred = credential(user)
    if cred is not None and cred.confirmed_at is not None:
        raise Conflict(_l("Two-factor authentication is already on."))
    candidate = TotpCredential(user_id=user.id, secret=secret)
    if not _accept_totp(candidate, _normalize(code)):
        raise ValidationFailed(
            fields={"code": str(_l("That code is not right. Check the time on your phone."))}
        )
    if cred is None:
        cred = candidate
        db.session.add(cred)
    else:  # an unconfirmed row left by an earlier version of the set-up page
        cred.secret = secret
        cred.created_at = utcnow()
        cred.last_used_step = candidate.last_used_step
    cred.confirmed_at = utcnow()
    codes = _new_recovery_codes(user)
    audit.record(
        Actor(user_id=user.id),
        "user.two_factor_enabled",
        target_type="user",
        target_id=user.id,
    )
    db.session.flush()
    return codes


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(5)  # 40 random bits, e.g. 3f9a2-c41b7
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash(raw)))
    return codes


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), after a current code."""
    if not verify(user, code):
        raise ValidationFailed(fields={"code": str(_l("That code is not right."))})
    codes = _new_recovery_codes(user)
    audit.record(
        Actor(user_id=user.id),
        "user.recovery_codes_renewed",
        target_type="user",
        target_id=user.id,
    )
    db.session.flush()
    return codes


def disable(user: User, code: str) -> None:
    """Turn two-factor off with a current code; refused while the platform requires it."""
    if staff_two_factor_required() and is_staff(user):
        raise Conflict(_l("The platform requires two-factor authentication for all staff."))
    if not verify(user, code):
        raise ValidationFailed(fields={"code": str(_l("That code is not right."))})
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    audit.record(
        Actor(user_id=user.id),
        "user.two_factor_disabled",
        target_type="user",
        target_id=user.id,
    )
    db.session.flush()


# -- checking a code at login and before a login-as -------------------------------------


def verify(user: User, code: str | None) -> str | None:
    """``"totp"`` or ``"recovery"`` when the code is right (a recovery code is then used up),
    else None."""
    cred = credential(user)
    if cred is None or cred.confirmed_at is None:
        return None
    code = _normalize(code)
    if _accept_totp(cred, code):
        db.session.flush()
        return "totp"
    if re.fullmatch(r"[0-9a-f]{10}", code):
        row = db.session.scalar(
            select(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .with_for_update()
        )
        if row is not None:
            row.used_at = utcnow()
            db.session.flush()
            audit.record(
                Actor(user_id=user.id),
                "user.recovery_code_used",
                target_type="user",
                target_id=user.id,
            )
            return "recovery"
    return None
