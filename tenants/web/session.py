"""The web session: who is logged in, in which context, and the login-as support session."""

from __future__ import annotations

from flask import flash, g, redirect, request, session, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from tenants.access.actors import Actor
from tenants.access.policy import refuse_request_in_view_only
from tenants.core.extensions import db, login_manager
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import (
    Member,
    Organization,
    OrganizationStatus,
    PlatformStaff,
    Reseller,
    ResellerStaff,
    ResellerStatus,
    SupportSessionEnd,
    User,
)
from tenants.people import auth, identity
from tenants.support import sessions as support
from tenants.web.paths import is_api_request

CONTEXT_KEY = "ctx"
# The open login-as support session of this browser (see tenants.support.sessions).
SUPPORT_KEY = "support"

login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "warning"
# Every request re-checks the server-side session; "strong" protection would log people
# out on a changed IP, which mobile users hit constantly.
login_manager.session_protection = "basic"


@login_manager.user_loader
def load_user(token: str):
    return auth.load_session_user(token)


def actor_for_context(user, key: str | None) -> Actor | None:
    """Rebuild the actor for a saved context, or None when the context is no longer valid."""
    if not key:
        return None
    kind, _, ident = key.partition(":")
    if kind == "platform":
        staff = db.session.scalar(select(PlatformStaff).where(PlatformStaff.user_id == user.id))
        return Actor(user_id=user.id, platform_role=staff.role) if staff else None
    if kind == "reseller":
        staff = db.session.scalar(
            select(ResellerStaff)
            .join(Reseller, Reseller.id == ResellerStaff.reseller_id)
            .where(
                ResellerStaff.user_id == user.id,
                ResellerStaff.reseller_id == ident,
                Reseller.status == ResellerStatus.ACTIVE,
            )
        )
        if staff is None:
            return None
        return Actor(user_id=user.id, reseller_id=staff.reseller_id, reseller_role=staff.role)
    if kind == "member":
        row = db.session.execute(
            select(Member, Organization)
            .join(Organization, Organization.id == Member.organization_id)
            .where(
                Member.id == ident,
                Member.user_id == user.id,
                Member.removed_at.is_(None),
                Member.portal_access.is_(True),
                Organization.status == OrganizationStatus.ACTIVE,
                Member.user_id.not_in(identity.staff_user_ids()),  # staff: support sessions only
            )
        ).first()
        if row is None:
            return None
        member, org = row
        return Actor(
            user_id=user.id,
            reseller_id=org.reseller_id,
            organization_id=org.id,
            member_id=member.id,
            member_role=member.role,
        )
    return None


def current_actor() -> Actor | None:
    """The actor of this request (None when logged out); computed once per request."""
    if "actor" in g:
        return g.actor
    actor = None
    if current_user.is_authenticated and session.get(SUPPORT_KEY):
        actor = _support_actor()
        if actor is not None:
            g.actor = actor
            return actor
    if current_user.is_authenticated:
        actor = actor_for_context(current_user, session.get(CONTEXT_KEY))
        if actor is None:
            contexts = auth.available_contexts(current_user)
            if contexts:
                session[CONTEXT_KEY] = contexts[0].key
                actor = actor_for_context(current_user, contexts[0].key)
    g.actor = actor
    return actor


def _support_actor() -> Actor | None:
    """The member acted as during a live support session (else None: the staff account)."""
    row = support.open_session(session.get(SUPPORT_KEY), current_user.id)
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        return None
    return support.acting_actor(row)


def acting_user():
    """The person the pages act as: the member during a support session, else the user."""
    actor = current_actor()
    if actor is not None and actor.real_user_id and actor.user_id:
        return db.session.get(User, actor.user_id)
    return current_user._get_current_object()


def _renew_login() -> None:
    """A new session token for the same login (the old one is revoked): no copy of the
    cookie taken before a support session starts or ends works after it."""
    user = current_user._get_current_object()
    _token, remember = auth.renew_session(user, user.auth_token)
    login_user(user, remember=remember)
    g.pop("actor", None)


def enter_support_session(support_session_id: str) -> None:
    """Act as the member from the next request on (the staff context is kept for later)."""
    _renew_login()
    session[SUPPORT_KEY] = support_session_id
    g.pop("actor", None)


def leave_support_session(end_reason) -> bool:
    """Close the open support session (if any) and go back to the staff account.

    Returns whether a session was open. The caller commits.
    """
    support_id = session.pop(SUPPORT_KEY, None)
    g.pop("actor", None)
    if support_id is None:
        return False
    row = support.open_session(support_id, current_user.id)
    if row is not None:
        support.end_support_session(row, end_reason)
    _renew_login()
    return True


def enforce_support_session():
    """Before each request: a support session past its limit (or whose staff role, member or
    organization went away) ends, and the request continues on the staff account's home.
    Not for the API: it never acts through the browser's login (and loading it, with its
    session protection's hash, cost about 3 % of a usage charge's CPU)."""
    if (
        is_api_request()
        or not current_user.is_authenticated
        or not session.get(SUPPORT_KEY)
        or request.endpoint in (None, "static")
    ):
        return None
    row = support.open_session(session.get(SUPPORT_KEY), current_user.id)
    staff = actor_for_context(current_user, session.get(CONTEXT_KEY))
    if (
        row is not None
        and row.ended_at is None
        and row.expires_at > utcnow()
        and support.still_allowed(row, staff)
    ):
        return None
    if row is not None and row.ended_at is None and row.expires_at <= utcnow():
        reason = SupportSessionEnd.EXPIRED
        message = _l(
            "Your support session reached its time limit and has ended. "
            "You are back on your own account."
        )
    else:
        reason = SupportSessionEnd.REVOKED
        message = _l("Your support session has ended. You are back on your own account.")
    leave_support_session(reason)
    commit()
    flash(str(message), "warning")
    return redirect(home_url(current_actor()))


def refuse_changes_in_view_only() -> None:
    """Before each request: during a view-only support session, whatever may change state
    is refused (403) unless the policy allows it (tenants.access.policy). The bearer-key API
    never acts through a support session."""
    if is_api_request() or not current_user.is_authenticated:
        return
    if not session.get(SUPPORT_KEY):
        return
    refuse_request_in_view_only(current_actor(), request.method, request.endpoint)


def current_organization() -> Organization | None:
    actor = current_actor()
    if actor and actor.organization_id:
        return db.session.get(Organization, actor.organization_id)
    return None


def enforce_live_access():
    """Log out a user whose every context vanished (organization suspended, access removed).
    Not for the API (enforce_support_session)."""
    if (
        is_api_request()
        or not current_user.is_authenticated
        or request.endpoint in (None, "static")
    ):
        return None
    if current_actor() is None:
        reason = auth.refusal_reason(current_user)
        auth.revoke_session(current_user.auth_token)
        db.session.commit()
        logout_user()
        session.clear()
        flash(reason, "danger")
        return redirect(url_for("auth.login"))
    return None


def home_url(actor: Actor | None) -> str:
    if actor is None:
        return url_for("auth.login")
    if actor.is_platform:
        return url_for("platform.overview")
    if actor.is_reseller_staff:
        return url_for("customers.index")
    return url_for("organization.overview", org_id=actor.organization_id)
