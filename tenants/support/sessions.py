"""Login-as support sessions: start, act as the member, end; the log and the start email.

The web layer keeps the open session's id in the Flask session and builds, on every
request, the Actor this module returns (``acting_actor``): the member, with the staff
member as ``real_user_id``, the session as ``support_session_id`` and its mode as
``support_mode``. What must never run during a support session is listed once, in
tenants.access.policy (``WhileActing``), and so is what a view-only session may still do
(``ALLOWED_IN_VIEW_ONLY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select, tuple_

from tenants.access import scoping, support_scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, WhileActing, can, refuse_while_acting, require
from tenants.audit import log as audit
from tenants.core.errors import (
    Conflict,
    NotFound,
    ReauthenticationRequired,
    StaffTarget,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import clean_text
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import (
    AuditEntry,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    Reseller,
    SupportMode,
    SupportSession,
    SupportSessionEnd,
    User,
)
from tenants.notify.emails import external_url, recipient_language, send_email_template
from tenants.notify.recipients import admins_of, language_for, notice_recipients, owner_of
from tenants.people.identity import is_staff_user, staff_user_ids
from tenants.resellers.operations import set_reseller_switch


def session_minutes() -> int:
    return int(current_app.config.get("LOGIN_AS_MINUTES", 30))


def reauth_minutes() -> int:
    return int(current_app.config.get("LOGIN_AS_REAUTH_MINUTES", 15))


def is_fresh(authenticated_at: datetime | None) -> bool:
    """Whether the last password or two-factor check is recent enough to start one."""
    if authenticated_at is None:
        return False
    return utcnow() - authenticated_at <= timedelta(minutes=reauth_minutes())


def candidates(actor: Actor, org: Organization) -> list[Member]:
    """Members the actor may act as: current, with portal access, not staff; owner first."""
    if not can(actor, Permission.LOGIN_AS) or org.status != OrganizationStatus.ACTIVE:
        return []
    query = (
        scoping.members_query(actor, org)
        .join(User, User.id == Member.user_id)
        .where(Member.portal_access.is_(True), Member.user_id.not_in(staff_user_ids()))
        .order_by((Member.role != MemberRole.OWNER), User.name, User.email)
    )
    return list(db.session.scalars(query))


def clean_mode(value: object) -> SupportMode:
    """``view`` (also when nothing is given) or ``change``; anything else is refused."""
    if value is None or value == "":
        return SupportMode.VIEW
    try:
        return SupportMode(value)
    except ValueError:
        raise ValidationFailed(
            fields={"mode": str(_l("Choose view only or make changes."))}
        ) from None


def start_support_session(
    actor: Actor,
    org: Organization,
    member_id: str,
    reason: str,
    *,
    authenticated_at: datetime | None,
    ip: str | None = None,
    mode: SupportMode | str | None = SupportMode.VIEW,
) -> SupportSession:
    """Open a support session as a member of an organization the actor reached through
    scoping (another reseller's is a 404 there). Refused: nesting, staff as the target,
    a stale authentication, a missing reason, a suspended organization, no portal access.

    ``mode`` is ``view`` (the default: nothing can be changed) or ``change`` (the
    organization's admins are emailed that it started, by whom and why).
    """
    refuse_while_acting(actor, WhileActing.START_SUPPORT_SESSION)
    require(actor, Permission.LOGIN_AS)
    scoping.get_organization(actor, org.id)
    member = scoping.get_member(actor, org, member_id)
    reason = clean_text(reason, "reason", max_length=500, one_line=False)
    mode = clean_mode(mode)
    if is_staff_user(member.user_id):
        raise StaffTarget()
    if org.status != OrganizationStatus.ACTIVE:
        raise Conflict(_l("Only an active organization can be supported this way."))
    if not member.portal_access:
        raise Conflict(_l("This member has no portal access, so nobody can act as them."))
    if not is_fresh(authenticated_at):
        raise ReauthenticationRequired()
    now = utcnow()
    support = SupportSession(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        member_id=member.id,
        staff_user_id=actor.user_id,
        reason=reason,
        mode=mode,
        started_at=now,
        expires_at=now + timedelta(minutes=session_minutes()),
        ip=(ip or "")[:64] or None,
    )
    db.session.add(support)
    db.session.flush()
    audit.record(
        actor,
        "support_session.started",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="member",
        target_id=member.id,
        changes={
            "member": [None, member.user.email],
            "reason": [None, reason],
            "mode": [None, mode.value],
        },
        support_session_id=support.id,
    )
    people = start_email_recipients(support, org)
    for recipient in notice_recipients(org, people) if people else []:
        who = {"user_id": recipient.user_id} if recipient.user_id else {"email": recipient.email}
        enqueue("send_support_session_started", support_session_id=support.id, **who)
    return support


def end_support_session(support: SupportSession, end_reason: SupportSessionEnd) -> bool:
    """Close an open session (returns False when it was already closed)."""
    if support.ended_at is not None:
        return False
    support.ended_at = utcnow()
    support.end_reason = SupportSessionEnd(end_reason)
    db.session.flush()
    audit.record(
        Actor(user_id=support.staff_user_id),
        "support_session.ended",
        reseller_id=support.reseller_id,
        organization_id=support.organization_id,
        target_type="member",
        target_id=support.member_id,
        changes={"end_reason": [None, support.end_reason.value]},
        support_session_id=support.id,
    )
    return True


def open_session(support_session_id: str | None, staff_user_id: str) -> SupportSession | None:
    """The staff member's session with this id, whatever its state (None if not theirs)."""
    if not isinstance(support_session_id, str) or len(support_session_id) > 40:
        return None
    support = db.session.get(SupportSession, support_session_id)
    if support is None or support.staff_user_id != staff_user_id:
        return None
    return support


def still_allowed(support: SupportSession, staff_actor: Actor | None) -> bool:
    """Whether the staff member may still act here: role kept, organization active, member
    current with portal access and not staff."""
    if staff_actor is None or not can(staff_actor, Permission.LOGIN_AS):
        return False
    try:
        org = scoping.get_organization(staff_actor, support.organization_id)
        member = scoping.get_member(staff_actor, org, support.member_id)
    except NotFound:
        return False
    return (
        org.status == OrganizationStatus.ACTIVE
        and member.portal_access
        and not is_staff_user(member.user_id)
    )


def acting_actor(support: SupportSession) -> Actor:
    """Who the request acts as during the session: the member, really the staff member."""
    member = db.session.get(Member, support.member_id)
    return Actor(
        user_id=member.user_id,
        reseller_id=support.reseller_id,
        organization_id=support.organization_id,
        member_id=member.id,
        member_role=member.role,
        real_user_id=support.staff_user_id,
        support_session_id=support.id,
        support_mode=support.mode,
    )


# -- the log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportSessionRow:
    session: SupportSession
    changes: int


LOG_PAGE_SIZE = 50


def support_log(
    actor: Actor,
    organization: Organization | None = None,
    *,
    limit: int = LOG_PAGE_SIZE,
    before: tuple[datetime, str] | None = None,
) -> list[SupportSessionRow]:
    """Newest first: of one organization (its Audit tab) or every customer in scope."""
    if organization is None:
        require(actor, Permission.VIEW_SUPPORT_SESSIONS)
    else:
        require(actor, Permission.VIEW_AUDIT)
    query = support_scoping.support_sessions_query(actor, organization)
    if before is not None:
        query = query.where(tuple_(SupportSession.started_at, SupportSession.id) < before)
    query = query.order_by(SupportSession.started_at.desc(), SupportSession.id.desc()).limit(limit)
    sessions = list(db.session.scalars(query))
    counts: dict[str, int] = {}
    if sessions:
        query = _entries_of([s.id for s in sessions]).where(
            AuditEntry.action.not_in(_OPEN_AND_CLOSE)
        )
        counts = dict(
            db.session.execute(
                query.with_only_columns(AuditEntry.support_session_id, func.count()).group_by(
                    AuditEntry.support_session_id
                )
            ).all()
        )
    return [SupportSessionRow(s, counts.get(s.id, 0)) for s in sessions]


# A session's own start and end: listed with it, not counted among its changes.
_OPEN_AND_CLOSE = ("support_session.started", "support_session.ended")


def _entries_of(support_session_ids: list[str]):
    """The audit entries made in these sessions, each of its session's reseller: what the
    session page lists is what the log counts."""
    return (
        select(AuditEntry)
        .join(
            SupportSession,
            and_(
                SupportSession.id == AuditEntry.support_session_id,
                SupportSession.reseller_id == AuditEntry.reseller_id,
            ),
        )
        .where(AuditEntry.support_session_id.in_(support_session_ids))
    )


def get_support_session(
    actor: Actor, support_session_id: str, organization: Organization | None = None
) -> SupportSession:
    if not isinstance(support_session_id, str) or len(support_session_id) > 40:
        raise NotFound()
    if organization is None:
        require(actor, Permission.VIEW_SUPPORT_SESSIONS)
    else:
        require(actor, Permission.VIEW_AUDIT)
    support = db.session.scalar(
        support_scoping.support_sessions_query(actor, organization).where(
            SupportSession.id == support_session_id
        )
    )
    if support is None:
        raise scoping.not_found(actor, SupportSession, support_session_id)
    return support


def session_changes(support: SupportSession) -> list[AuditEntry]:
    """What was done during the session: its audit entries, oldest first."""
    return list(
        db.session.scalars(_entries_of([support.id]).order_by(AuditEntry.created_at, AuditEntry.id))
    )


# -- the reseller's setting ---------------------------------------------------------------


def set_owner_notification(actor: Actor, reseller: Reseller, enabled: bool) -> bool:
    """Reseller admins choose whether owners get an email when a support session starts."""
    return set_reseller_switch(actor, reseller, "notify_owner_on_support_session", enabled)


# -- the start email (a job) ----------------------------------------------------------------


def start_email_recipients(support: SupportSession, org: Organization) -> list[User]:
    """Who is emailed that a session started: in ``change`` mode the organization's admins
    (the owner and every admin with portal access); in ``view`` mode the owner, when the
    reseller's setting asks for it. One email (one job) each, in their own language; the
    notification email too whenever anyone is told (notice_recipients)."""
    if support.mode == SupportMode.CHANGE:
        return admins_of(org)
    reseller = db.session.get(Reseller, org.reseller_id)
    owner = owner_of(org)
    if owner is None or not reseller.notify_owner_on_support_session:
        return []
    return [owner.user]


@job("send_support_session_started")
def deliver_support_session_started(
    support_session_id: str, user_id: str | None = None, email: str | None = None
) -> None:
    """Tell one person (``user_id``; the owner for jobs queued before modes) or address
    (``email``: the notification email) that a support session started in their
    organization: by whom, as whom, why, in which mode."""
    support = db.session.get(SupportSession, support_session_id)
    if support is None:
        return
    org = db.session.get(Organization, support.organization_id)
    if email is not None:
        person = None
        language = language_for(email, org)
    else:
        if user_id is None:
            owner = owner_of(org)
            person = owner.user if owner is not None else None
        else:
            person = db.session.get(User, user_id)
        if person is None:
            return
        email = person.email
        language = recipient_language(person, db.session.get(Reseller, org.reseller_id))
    zone = ZoneInfo(org.timezone)
    send_email_template(
        email,
        language,
        "support_session_started",
        recipient=person,
        organization=org,
        staff=db.session.get(User, support.staff_user_id),
        member=db.session.get(Member, support.member_id).user,
        reason=support.reason,
        changes=support.mode == SupportMode.CHANGE,
        started=format_datetime(support.started_at, "medium", tzinfo=zone, locale=language),
        expires=format_datetime(support.expires_at, "medium", tzinfo=zone, locale=language),
        link=external_url("organization.audit", org_id=org.id),
    )
