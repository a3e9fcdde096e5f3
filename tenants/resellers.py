"""Resellers and platform staff: created by platform admins and the CLI."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants import audit
from tenants.actors import Actor
from tenants.errors import ValidationFailed
from tenants.extensions import db
from tenants.models import PlatformRole, PlatformStaff, Reseller, ResellerRole, ResellerStaff
from tenants.policy import Permission, require
from tenants.users import get_or_create_user
from tenants.validation import clean_text


def slugify(name: str) -> str:
    """The reseller's slug: its lowercased, hyphenated name (ASCII)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def create_reseller(actor: Actor, name: str, *, default_language: str = "en") -> Reseller:
    require(actor, Permission.MANAGE_PLATFORM)
    name = clean_text(name, "name", max_length=200)
    slug = slugify(name)
    if not slug:
        raise ValidationFailed(fields={"name": str(_l("Use at least one letter or digit."))})
    if db.session.scalar(select(Reseller).where(Reseller.slug == slug)) is not None:
        raise ValidationFailed(
            fields={"name": str(_l("A reseller with this name already exists."))}
        )
    if default_language not in ("en", "es"):
        raise ValidationFailed(fields={"default_language": str(_l("Unknown language."))})
    reseller = Reseller(name=name, slug=slug, default_language=default_language)
    db.session.add(reseller)
    db.session.flush()
    audit.record(
        actor,
        "reseller.created",
        reseller_id=reseller.id,
        target_type="reseller",
        target_id=reseller.id,
        changes={"name": [None, name]},
    )
    return reseller


def add_reseller_staff(
    actor: Actor, reseller: Reseller, email: str, name: str, role: ResellerRole
) -> ResellerStaff:
    require(
        actor,
        Permission.MANAGE_RESELLER_SETTINGS if actor.reseller_id else Permission.MANAGE_PLATFORM,
    )
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


def add_platform_staff(actor: Actor, email: str, name: str, role: PlatformRole) -> PlatformStaff:
    require(actor, Permission.MANAGE_PLATFORM)
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
