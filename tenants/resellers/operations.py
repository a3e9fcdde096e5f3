"""Resellers and their staff, platform staff: managed by platform and reseller admins, the CLI."""

from __future__ import annotations

import enum
import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.errors import (
    CannotRemoveYourself,
    Conflict,
    LastAdminRequired,
    NotFound,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_email, clean_text
from tenants.models import (
    PlatformRole,
    PlatformStaff,
    Reseller,
    ResellerRole,
    ResellerStaff,
    ResellerStatus,
    User,
)
from tenants.people import invitations as notifications
from tenants.people.identity import refuse_customer_as_staff
from tenants.people.users import get_or_create_user


def slugify(name: str) -> str:
    """The reseller's slug: its lowercased, hyphenated name (ASCII)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def _clean_language(value: str) -> str:
    if value not in ("en", "es"):
        raise ValidationFailed(fields={"default_language": str(_l("Unknown language."))})
    return value


def _clean_reseller_name(value) -> str:
    """A reseller's name, which must give a slug no other reseller has."""
    name = clean_text(value, "name", max_length=200)
    slug = slugify(name)
    if not slug:
        raise ValidationFailed(fields={"name": str(_l("Use at least one letter or digit."))})
    if db.session.scalar(select(Reseller).where(Reseller.slug == slug)) is not None:
        taken = _l("A reseller with this name already exists.")
        raise ValidationFailed(fields={"name": str(taken)})
    return name


def _clean_role(value, role_type: type[enum.StrEnum], field: str = "role"):
    try:
        return role_type(value)
    except ValueError:
        raise ValidationFailed(fields={field: str(_l("Unknown role."))}) from None


def _clean_invitation(name, email, role, role_type: type[enum.StrEnum]) -> dict:
    """A staff invitation's name, email and role, every error reported at once."""
    return collect_field_errors(
        {
            "name": lambda: clean_text(name, "name", max_length=200),
            "email": lambda: clean_email(email, "email"),
            "role": lambda: _clean_role(role, role_type),
        }
    )


def create_reseller(
    actor: Actor,
    name: str,
    *,
    default_language: str = "en",
    admin_name: str | None = None,
    admin_email: str | None = None,
) -> Reseller:
    """A new reseller; with ``admin_email``, its first admin is added and invited by email."""
    require(actor, Permission.MANAGE_PLATFORM)
    checks = {
        "name": lambda: _clean_reseller_name(name),
        "default_language": lambda: _clean_language(default_language),
    }
    if admin_email is not None or admin_name is not None:
        checks["admin_name"] = lambda: clean_text(admin_name, "admin_name", max_length=200)
        checks["admin_email"] = lambda: clean_email(admin_email, "admin_email")
    clean = collect_field_errors(checks)
    name, slug = clean["name"], slugify(clean["name"])
    admin_name, admin_email = clean.get("admin_name"), clean.get("admin_email")
    if admin_email:
        refuse_customer_as_staff(admin_email, "admin_email")
    reseller = Reseller(name=name, slug=slug, default_language=default_language)
    db.session.add(reseller)
    db.session.flush()
    audit.record(
        actor,
        "reseller.created",
        reseller_id=reseller.id,
        target_type="reseller",
        target_id=reseller.id,
        changes={"name": [None, name], "slug": [None, slug]},
    )
    if admin_email:
        invite_reseller_staff(actor, reseller, admin_email, admin_name, ResellerRole.ADMIN)
    return reseller


def _record(actor: Actor, reseller: Reseller, action: str, changes: dict) -> None:
    db.session.flush()
    audit.record(
        actor,
        action,
        reseller_id=reseller.id,
        target_type="reseller",
        target_id=reseller.id,
        changes=changes,
    )


def suspend_reseller(actor: Actor, reseller: Reseller, reason: str) -> None:
    """Refuse the reseller's staff and API keys; its customers keep working."""
    require(actor, Permission.MANAGE_PLATFORM)
    reason = clean_text(reason, "reason", max_length=500, one_line=False)
    if reseller.status == ResellerStatus.SUSPENDED:
        raise Conflict(_l("The reseller is already suspended."))
    changes = audit.diff(reseller, {"status": ResellerStatus.SUSPENDED})
    reseller.suspended_at = utcnow()
    reseller.suspension_reason = reason
    # The log keeps the status change and the reason given (not the dates it also sets).
    _record(actor, reseller, "reseller.suspended", {**changes, "reason": reason})


def reactivate_reseller(actor: Actor, reseller: Reseller, reason: str | None = None) -> None:
    require(actor, Permission.MANAGE_PLATFORM)
    reason = clean_text(reason, "reason", max_length=500, required=False, one_line=False)
    if reseller.status == ResellerStatus.ACTIVE:
        raise Conflict(_l("The reseller is already active."))
    changes = audit.diff(reseller, {"status": ResellerStatus.ACTIVE})
    reseller.suspended_at = None
    reseller.suspension_reason = None
    _record(actor, reseller, "reseller.reactivated", {**changes, "reason": reason})


# ---------------------------------------------------------------------------
# Reseller staff


def _require_staff_manager(actor: Actor, reseller: Reseller) -> None:
    """Reseller admins manage their own staff; platform admins any reseller's."""
    require(
        actor,
        Permission.MANAGE_RESELLER_SETTINGS if actor.reseller_id else Permission.MANAGE_PLATFORM,
    )
    scoping.get_reseller(actor, reseller.id)


def _locked_reseller_admin_count(reseller: Reseller) -> int:
    """Admins of the reseller, rows locked so two demotions at once cannot leave none."""
    ids = db.session.scalars(
        select(ResellerStaff.id)
        .where(ResellerStaff.reseller_id == reseller.id, ResellerStaff.role == ResellerRole.ADMIN)
        .with_for_update()
    ).all()
    return len(ids)


def add_reseller_staff(
    actor: Actor, reseller: Reseller, email: str, name: str, role: ResellerRole
) -> ResellerStaff:
    """Make a person (new or existing, never a customer member) the reseller's staff."""
    _require_staff_manager(actor, reseller)
    refuse_customer_as_staff(clean_email(email))
    user, _created = get_or_create_user(email, name, language=reseller.default_language)
    staff = db.session.scalar(
        select(ResellerStaff).where(
            ResellerStaff.reseller_id == reseller.id, ResellerStaff.user_id == user.id
        )
    )
    if staff is None:
        staff = ResellerStaff(reseller_id=reseller.id, user_id=user.id, role=role)
        db.session.add(staff)
    else:
        staff.role = role
    db.session.flush()
    audit.record(
        actor,
        "reseller.staff_added",
        reseller_id=reseller.id,
        target_type="user",
        target_id=user.id,
        changes={"role": [None, role.value]},
    )
    return staff


def invite_reseller_staff(
    actor: Actor, reseller: Reseller, email: str, name: str, role: ResellerRole | str
) -> ResellerStaff:
    """Add a person to the reseller's staff and email them a set-password (or log-in) link."""
    _require_staff_manager(actor, reseller)
    clean = _clean_invitation(name, email, role, ResellerRole)
    name, email, role = clean["name"], clean["email"], clean["role"]
    existing = db.session.scalar(
        scoping.reseller_staff_query(actor, reseller)
        .join(User, User.id == ResellerStaff.user_id)
        .where(User.email == email)
    )
    if existing is not None:
        raise ValidationFailed(fields={"email": str(_l("This person is already on the staff."))})
    staff = add_reseller_staff(actor, reseller, email, name, role)
    notifications.send_staff_invitation(staff.user, reseller)
    return staff


def change_reseller_staff_role(
    actor: Actor, reseller: Reseller, staff_id: str, role: ResellerRole | str
) -> ResellerStaff:
    _require_staff_manager(actor, reseller)
    staff = scoping.get_reseller_staff(actor, reseller, staff_id)
    role = _clean_role(role, ResellerRole)
    if staff.role == role:
        return staff
    if staff.role == ResellerRole.ADMIN and _locked_reseller_admin_count(reseller) <= 1:
        raise LastAdminRequired()
    before = staff.role
    staff.role = role
    audit.record(
        actor,
        "reseller.staff_role_changed",
        reseller_id=reseller.id,
        target_type="user",
        target_id=staff.user_id,
        changes={"role": [before.value, role.value]},
    )
    db.session.flush()
    return staff


def remove_reseller_staff(actor: Actor, reseller: Reseller, staff_id: str) -> None:
    """Take a person off the staff (never yourself, never the last admin); they lose access
    on their next request."""
    _require_staff_manager(actor, reseller)
    staff = scoping.get_reseller_staff(actor, reseller, staff_id)
    if staff.user_id == actor.user_id:
        raise CannotRemoveYourself()
    if staff.role == ResellerRole.ADMIN and _locked_reseller_admin_count(reseller) <= 1:
        raise LastAdminRequired()
    audit.record(
        actor,
        "reseller.staff_removed",
        reseller_id=reseller.id,
        target_type="user",
        target_id=staff.user_id,
        changes={"role": [staff.role.value, None]},
    )
    db.session.delete(staff)
    db.session.flush()


# ---------------------------------------------------------------------------
# Platform staff


def add_platform_staff(actor: Actor, email: str, name: str, role: PlatformRole) -> PlatformStaff:
    """Make a person (new or existing, never a customer member) platform staff."""
    require(actor, Permission.MANAGE_PLATFORM)
    refuse_customer_as_staff(clean_email(email))
    user, _created = get_or_create_user(email, name)
    staff = db.session.scalar(select(PlatformStaff).where(PlatformStaff.user_id == user.id))
    if staff is None:
        staff = PlatformStaff(user_id=user.id, role=role)
        db.session.add(staff)
    else:
        staff.role = role
    db.session.flush()
    audit.record(
        actor,
        "platform.staff_added",
        target_type="user",
        target_id=user.id,
        changes={"role": [None, role.value]},
    )
    return staff


def platform_staff_query() -> Select:
    return select(PlatformStaff).join(User, User.id == PlatformStaff.user_id)


def get_platform_staff(staff_id: str) -> PlatformStaff:
    """A platform staff member by id, else NotFound."""
    if not isinstance(staff_id, str) or len(staff_id) > 40:
        raise NotFound()
    staff = db.session.get(PlatformStaff, staff_id)
    if staff is None:
        raise NotFound()
    return staff


def _locked_platform_admin_count() -> int:
    ids = db.session.scalars(
        select(PlatformStaff.id).where(PlatformStaff.role == PlatformRole.ADMIN).with_for_update()
    ).all()
    return len(ids)


def invite_platform_staff(
    actor: Actor, email: str, name: str, role: PlatformRole | str
) -> PlatformStaff:
    """Add a platform admin or support agent and email them a set-password (or log-in) link."""
    require(actor, Permission.MANAGE_PLATFORM)
    clean = _clean_invitation(name, email, role, PlatformRole)
    name, email, role = clean["name"], clean["email"], clean["role"]
    if db.session.scalar(platform_staff_query().where(User.email == email)) is not None:
        raise ValidationFailed(fields={"email": str(_l("This person is already on the staff."))})
    staff = add_platform_staff(actor, email, name, role)
    notifications.send_staff_invitation(staff.user)
    return staff


def change_platform_staff_role(
    actor: Actor, staff_id: str, role: PlatformRole | str
) -> PlatformStaff:
    require(actor, Permission.MANAGE_PLATFORM)
    staff = get_platform_staff(staff_id)
    role = _clean_role(role, PlatformRole)
    if staff.role == role:
        return staff
    if staff.role == PlatformRole.ADMIN and _locked_platform_admin_count() <= 1:
        raise LastAdminRequired()
    before = staff.role
    staff.role = role
    audit.record(
        actor,
        "platform.staff_role_changed",
        target_type="user",
        target_id=staff.user_id,
        changes={"role": [before.value, role.value]},
    )
    db.session.flush()
    return staff


def remove_platform_staff(actor: Actor, staff_id: str) -> None:
    require(actor, Permission.MANAGE_PLATFORM)
    staff = get_platform_staff(staff_id)
    if staff.user_id == actor.user_id:
        raise CannotRemoveYourself()
    if staff.role == PlatformRole.ADMIN and _locked_platform_admin_count() <= 1:
        raise LastAdminRequired()
    audit.record(
        actor,
        "platform.staff_removed",
        target_type="user",
        target_id=staff.user_id,
        changes={"role": [staff.role.value, None]},
    )
    db.session.delete(staff)
    db.session.flush()


def set_campaigns_need_approval(actor: Actor, reseller: Reseller, enabled: bool) -> bool:
    """Reseller admins choose whether their customers' campaigns wait for approval (SPEC
    §4a): from now on, scheduled ones are not affected. True when it changed."""
    return set_reseller_switch(actor, reseller, "campaigns_need_approval", enabled)


def set_reseller_switch(actor: Actor, reseller: Reseller, field: str, enabled: bool) -> bool:
    """A reseller admin turns one of the reseller's on/off settings on or off (audited as
    a settings change). True when it changed."""
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    scoping.get_reseller(actor, reseller.id)
    changes = audit.diff(reseller, {field: bool(enabled)})
    if changes:
        db.session.flush()
        audit.record(
            actor,
            "reseller.settings_updated",
            reseller_id=reseller.id,
            target_type="reseller",
            target_id=reseller.id,
            changes=changes,
        )
    return bool(changes)
