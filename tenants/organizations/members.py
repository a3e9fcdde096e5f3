"""An organization's members: add, change, remove and invitations (ownership: ownership.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tenants.access.actors import Actor
from tenants.access.policy import Permission, WhileActing, refuse_while_acting, require
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    OwnerCannotBeRemoved,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_email, clean_mobile, clean_text
from tenants.credits import operations as credit_operations
from tenants.credits.ledger import member_credits_total
from tenants.models import (
    Member,
    MemberRole,
    Organization,
    User,
)
from tenants.people import invitations as notifications
from tenants.people.identity import (
    PERSONAL_FIELDS,
    refuse_shared_person_edit,
    refuse_staff_as_member,
)
from tenants.people.users import find_user

NAME_MAX_LENGTH = 200
EDITABLE_FIELDS = ("name", "email", "mobile", "role", "portal_access")


# ---------------------------------------------------------------------------
# Checks


def _role(value: Any) -> MemberRole:
    """Admin or member: the owner is made only by transferring the ownership."""
    try:
        role = MemberRole(value)
    except ValueError:
        role = None
    if role not in (MemberRole.ADMIN, MemberRole.MEMBER):
        raise ValidationFailed(fields={"role": str(_l("Choose admin or member."))})
    return role


def _language(value: Any) -> str | None:
    """An invitation language the portal speaks, or None for the organization's."""
    if value is None or value == "":
        return None
    if value not in current_app.config["LANGUAGES"]:
        raise ValidationFailed(fields={"language": str(_l("Choose a language from the list."))})
    return value


def _flag(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationFailed(fields={field: str(_l("Choose yes or no."))})


def _current(org: Organization, member: Member) -> Member:
    """The member, when it is a current member of this organization (else NotFound)."""
    if (
        member is None
        or member.organization_id != org.id
        or member.reseller_id != org.reseller_id
        or member.removed_at is not None
    ):
        raise NotFound()
    return member


def _already_member() -> ValidationFailed:
    return ValidationFailed(
        fields={"email": str(_l("This person is already a member of the organization."))}
    )


# ---------------------------------------------------------------------------
# Services


def add_member(
    actor: Actor,
    org: Organization,
    *,
    name: str,
    email: str,
    role: str = MemberRole.MEMBER.value,
    portal_access: bool = True,
    mobile: str | None = None,
    language: str | None = None,
) -> Member:
    """Add a person (a new or an existing user) to the organization and invite them, in
    ``language`` when the inviter chooses one, else in the organization's language.

    An email that already has an account is reused: one person may belong to several
    organizations. Their name and mobile stay as they are (they own their profile). Staff
    are never members (tenants.people.identity): their email is refused.
    """
    require(actor, Permission.MANAGE_MEMBERS)
    values = collect_field_errors(
        {
            "name": lambda: clean_text(name, "name", max_length=NAME_MAX_LENGTH),
            "email": lambda: clean_email(email, "email"),
            "mobile": lambda: clean_mobile(mobile, "mobile"),
            "role": lambda: _role(role),
            "portal_access": lambda: _flag(portal_access, "portal_access"),
            "language": lambda: _language(language),
        }
    )
    refuse_staff_as_member(values["email"])
    user = find_user(values["email"])
    member = None
    if user is None:
        user = User(email=values["email"], name=values["name"], mobile=values["mobile"])
        db.session.add(user)
    else:
        member = db.session.scalar(
            select(Member).where(Member.organization_id == org.id, Member.user_id == user.id)
        )
        if member is not None and member.removed_at is None:
            raise _already_member()
    if member is None:
        member = Member(reseller_id=org.reseller_id, organization_id=org.id, user=user)
        db.session.add(member)
        action = "member.added"
    else:
        action = "member.readded"
        member.removed_at = None
        member.created_at = utcnow()  # "joined" counts from the return
    member.role = values["role"]
    member.portal_access = values["portal_access"]
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the same person added twice at the same moment
        raise _already_member() from exc
    audit.record_on(
        actor,
        org,
        action,
        target=member,
        changes={
            "email": [None, user.email],
            "role": [None, member.role.value],
            "portal_access": [None, member.portal_access],
            **({"language": [None, values["language"]]} if values["language"] else {}),
        },
    )
    if member.portal_access:
        notifications.send_invitation(member, values["language"])
    return member


def _clean_member_values(member: Member, values: dict[str, Any]) -> dict[str, Any]:
    """The fields of update_member that were given, cleaned; unknown fields are refused."""
    unknown = sorted(set(values) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(
            fields={name: str(_l("This field cannot be changed.")) for name in unknown}
        )
    checks: dict[str, Callable[[], Any]] = {}
    if "name" in values:
        checks["name"] = lambda: clean_text(values["name"], "name", max_length=NAME_MAX_LENGTH)
    if "email" in values:
        checks["email"] = lambda: clean_email(values["email"], "email")
    if "mobile" in values:
        checks["mobile"] = lambda: clean_mobile(values["mobile"], "mobile")
    if "role" in values and not (
        member.role == MemberRole.OWNER and values["role"] == MemberRole.OWNER.value
    ):
        checks["role"] = lambda: _role(values["role"])
    if "portal_access" in values:
        checks["portal_access"] = lambda: _flag(values["portal_access"], "portal_access")
    return collect_field_errors(checks)


def _personal_changes(
    actor: Actor, org: Organization, member: Member, clean: dict[str, Any]
) -> dict[str, Any]:
    """The person's details that change (they live on the user), once allowed here."""
    user = member.user
    personal = {k: clean[k] for k in PERSONAL_FIELDS if k in clean}
    personal = {k: v for k, v in personal.items() if getattr(user, k) != v}
    if "email" in personal:
        refuse_staff_as_member(personal["email"])
        other = find_user(personal["email"])
        if other is not None and other.id != user.id:
            raise ValidationFailed(
                fields={"email": str(_l("Another account already uses this email address."))}
            )
        if actor.user_id == user.id:
            refuse_while_acting(actor, WhileActing.CHANGE_EMAIL)
        if member.role == MemberRole.OWNER and actor.is_member and not actor.is_org_owner:
            raise Forbidden(_l("Only the owner or your provider can change the owner's email."))
    if personal:
        refuse_shared_person_edit(user, org.id)
    return personal


def _membership_changes(member: Member, clean: dict[str, Any]) -> dict[str, Any]:
    """The role and portal access that change; the owner keeps both."""
    membership: dict[str, Any] = {}
    if "role" in clean and clean["role"] != member.role:
        if member.role == MemberRole.OWNER:
            raise Conflict(
                _l("The owner's role changes only by transferring the ownership to someone else.")
            )
        membership["role"] = clean["role"]
    if "portal_access" in clean and clean["portal_access"] != member.portal_access:
        if member.role == MemberRole.OWNER and not clean["portal_access"]:
            raise Conflict(_l("The owner must keep portal access."))
        membership["portal_access"] = clean["portal_access"]
    return membership


def update_member(
    actor: Actor, org: Organization, member: Member, values: dict[str, Any]
) -> dict[str, list]:
    """Change a member's details (name, email, mobile), role and portal access.

    Returns ``{field: [before, after]}`` of what changed. A person's details live on their
    user, shared by every organization they belong to, so they may be changed here only
    while this organization is the only place that person is known.
    """
    require(actor, Permission.MANAGE_MEMBERS)
    _current(org, member)
    clean = _clean_member_values(member, values)
    personal = _personal_changes(actor, org, member, clean)
    membership = _membership_changes(member, clean)

    user = member.user
    changes = audit.diff(user, personal)
    changes.update(audit.diff(member, membership))
    if "email" in changes and member.role == MemberRole.OWNER:
        org.owner_email = user.email
    if not changes:
        return {}
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as exc:  # the email was taken at the same moment
        raise ValidationFailed(
            fields={"email": str(_l("Another account already uses this email address."))}
        ) from exc
    audit.record_on(actor, org, "member.updated", changes, target=member)
    if changes.get("portal_access") == [False, True]:
        notifications.send_invitation(member)
    elif changes.get("portal_access") == [True, False]:
        notifications.withdraw_invitation(member)
    return changes


def credits_to_return(org: Organization, member: Member) -> int:
    """The individual credits that removing the member returns to the system pool (now)."""
    return member_credits_total(org, member.id)


def remove_member(actor: Actor, org: Organization, member: Member) -> int:
    """Remove a member (never the owner); the row stays for history, marked removed.

    Their individual credits go back to the system pool in the same transaction (a
    transfer referenced ``member-removed``, under their account's lock); returns how many.
    Their logins no longer reach this organization: the web layer re-checks each request.
    """
    require(actor, Permission.MANAGE_MEMBERS)
    _current(org, member)
    if member.role == MemberRole.OWNER:
        raise OwnerCannotBeRemoved()
    returned = credit_operations.return_member_credits(actor, org, member.id)
    db.session.refresh(member)  # removed meanwhile: the lock waited for the other removal
    _current(org, member)
    member.removed_at = utcnow()
    notifications.withdraw_invitation(member)
    changes = {"email": [member.user.email, None], "role": [member.role.value, None]}
    if returned:
        changes["credits_returned"] = [None, returned]
    audit.record_on(actor, org, "member.removed", changes, target=member)
    return returned
