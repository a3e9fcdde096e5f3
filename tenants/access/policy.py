"""Authorization: what each role of SPEC §1 may do, in one table.

Scoping (tenants.access.scoping) decides what an actor can *see* (others get 404); this module
decides what they may *do* with what they can see (others get 403).
"""

from __future__ import annotations

import enum

from flask_babel import lazy_gettext as _l

from tenants.access.actors import SYSTEM, Actor
from tenants.core.errors import AlreadyActing, Forbidden, ViewOnlySession
from tenants.models import SupportMode
from tenants.models.ledger import AccountKind, AccountRef


class Permission(enum.StrEnum):
    MANAGE_PLATFORM = "manage_platform"  # resellers, platform staff
    VIEW_ALL_CUSTOMERS = "view_all_customers"
    MANAGE_RESELLER_SETTINGS = "manage_reseller_settings"  # tax, prices, staff, API keys
    USE_CUSTOMER_APP = "use_customer_app"
    CREATE_ORGANIZATION = "create_organization"
    MANAGE_ORGANIZATION = "manage_organization"  # edit, suspend, delete, ownership (reseller)
    VIEW_ORGANIZATION = "view_organization"
    EDIT_ORGANIZATION_SETTINGS = "edit_organization_settings"  # settings, billing details
    MANAGE_MEMBERS = "manage_members"
    # SPEC §2: the reseller's staff and keys change the owner at once (with a reason); the
    # owner asks a member, who accepts or declines (tenants.organizations.ownership).
    TRANSFER_OWNERSHIP = "transfer_ownership"
    REQUEST_OWNERSHIP_TRANSFER = "request_ownership_transfer"
    MANAGE_CREDITS = "manage_credits"  # buy for the pool, transfer
    TRANSFER_OWN_CREDITS = "transfer_own_credits"  # see may_transfer_from
    WITHDRAW_CREDITS = "withdraw_credits"
    RECORD_PAYMENTS = "record_payments"
    VIEW_AUDIT = "view_audit"
    LOGIN_AS = "login_as"
    VIEW_SUPPORT_SESSIONS = "view_support_sessions"  # every customer's support sessions
    # Ask the reseller for a configuration it switches (individual user credits): the
    # organization's owner and admins; the reseller's staff answer (MANAGE_ORGANIZATION).
    REQUEST_CONFIGURATION_CHANGE = "request_configuration_change"
    # Contact lists and the opt-out list (SPEC §4a): change them; reading them comes with
    # VIEW_ORGANIZATION (a member sends to the lists).
    MANAGE_CONTACTS = "manage_contacts"
    # Send SMS (tenants.messaging): the organization's members, its reseller's staff, keys.
    SEND_MESSAGES = "send_messages"
    # Automated campaigns: schedule, change, cancel (org admins, reseller staff, API keys);
    # approve or reject (the reseller: staff and reseller keys).
    MANAGE_CAMPAIGNS = "manage_campaigns"
    APPROVE_CAMPAIGNS = "approve_campaigns"


def _reseller_staff(actor: Actor) -> bool:
    return actor.is_reseller_staff or (actor.is_api and actor.organization_id is None)


def _reseller_admin(actor: Actor) -> bool:
    return actor.is_reseller_admin or (actor.is_api and actor.organization_id is None)


def can(actor: Actor, permission: Permission) -> bool:
    """Whether the actor's role allows the permission on a record it can already see."""
    if actor is SYSTEM:
        return True
    match permission:
        case Permission.MANAGE_PLATFORM:
            return actor.is_platform_admin
        case Permission.VIEW_ALL_CUSTOMERS:
            return actor.is_platform
        case Permission.MANAGE_RESELLER_SETTINGS:
            return _reseller_admin(actor)
        case Permission.USE_CUSTOMER_APP:
            return _reseller_staff(actor) or actor.is_platform
        case (
            Permission.CREATE_ORGANIZATION
            | Permission.MANAGE_ORGANIZATION
            | Permission.WITHDRAW_CREDITS
            | Permission.RECORD_PAYMENTS
            | Permission.TRANSFER_OWNERSHIP
            | Permission.APPROVE_CAMPAIGNS
        ):
            return _reseller_staff(actor)
        case Permission.VIEW_ORGANIZATION:
            return _reseller_staff(actor) or actor.is_platform or actor.is_member or actor.is_api
        case (
            Permission.EDIT_ORGANIZATION_SETTINGS
            | Permission.MANAGE_MEMBERS
            | Permission.MANAGE_CREDITS
            | Permission.VIEW_AUDIT
            | Permission.MANAGE_CONTACTS
            | Permission.MANAGE_CAMPAIGNS
        ):
            return _reseller_staff(actor) or actor.is_org_admin or actor.is_api
        case Permission.REQUEST_CONFIGURATION_CHANGE:
            return actor.is_org_admin
        case Permission.SEND_MESSAGES:
            return actor.is_member or _reseller_staff(actor) or actor.is_api
        case Permission.TRANSFER_OWN_CREDITS:
            return actor.is_member or can(actor, Permission.MANAGE_CREDITS)
        case Permission.REQUEST_OWNERSHIP_TRANSFER:
            return actor.is_org_owner
        case Permission.LOGIN_AS:
            # SPEC §1 gives login-as to support agents and reseller staff; platform admins
            # manage the platform and do not act as customers (they can be given the
            # support role for that).
            staff = actor.is_reseller_staff or actor.is_support_agent
            return staff and not refused_while_acting(actor, WhileActing.START_SUPPORT_SESSION)
        case Permission.VIEW_SUPPORT_SESSIONS:
            return actor.is_reseller_admin or actor.is_platform
    return False


def require(actor: Actor, permission: Permission) -> None:
    if not can(actor, permission):
        raise Forbidden()


# -- whose credits an actor may transfer -------------------------------------------------


def may_transfer_from(actor: Actor, organization_id: str, source: AccountRef) -> bool:
    """Whether the actor may move credits out of ``source``, an account of an organization it
    reached: with MANAGE_CREDITS any of them (the pool or a member's); a plain member only
    their own individual account (seed 001: to another user or back to the pool) — never
    the pool, never another member's."""
    if can(actor, Permission.MANAGE_CREDITS):
        return True
    return bool(
        actor.is_member
        and actor.member_id
        and actor.organization_id == organization_id
        and source.kind == AccountKind.MEMBER
        and source.member_id == actor.member_id
    )


def require_transfer_from(actor: Actor, organization_id: str, source: AccountRef) -> None:
    """Refuse (403) a transfer out of an account the actor may not move credits from."""
    if not may_transfer_from(actor, organization_id, source):
        raise Forbidden()


# -- what a login-as support session may never do ------------------------------------------


class WhileActing(enum.StrEnum):
    """What is never done while acting as someone: SPEC §5 (the person's password, email and
    ownership, deleting the organization, another support session) and what the portal adds
    to it (money and credentials that outlive the session)."""

    START_SUPPORT_SESSION = "start_support_session"
    CHANGE_PASSWORD = "change_password"  # noqa: S105  (an action's name, not a secret)
    CHANGE_EMAIL = "change_email"
    TRANSFER_OWNERSHIP = "transfer_ownership"
    DELETE_ORGANIZATION = "delete_organization"
    SUSPEND_ORGANIZATION = "suspend_organization"
    USE_SAVED_CARD = "use_saved_card"
    CHANGE_SAVED_CARD = "change_saved_card"
    CREATE_API_KEY = "create_api_key"
    MANAGE_TWO_FACTOR = "manage_two_factor"
    SWITCH_CONTEXT = "switch_context"


# The refusal each one raises: a message for Forbidden, or an error of its own.
_REFUSALS: dict[WhileActing, object] = {
    WhileActing.START_SUPPORT_SESSION: AlreadyActing,
    WhileActing.CHANGE_PASSWORD: _l(
        "During a support session the person's password cannot be changed."
    ),
    WhileActing.CHANGE_EMAIL: _l("During a support session the person's email cannot be changed."),
    WhileActing.TRANSFER_OWNERSHIP: _l("Ownership cannot be transferred during a support session."),
    WhileActing.DELETE_ORGANIZATION: _l(
        "An organization cannot be deleted during a support session."
    ),
    WhileActing.SUSPEND_ORGANIZATION: _l(
        "An organization cannot be suspended during a support session."
    ),
    WhileActing.USE_SAVED_CARD: _l("A saved card cannot be used during a support session."),
    WhileActing.CHANGE_SAVED_CARD: _l(
        "A saved card cannot be used or changed while acting as another person."
    ),
    WhileActing.CREATE_API_KEY: _l("API keys cannot be created during a support session."),
    WhileActing.MANAGE_TWO_FACTOR: None,
    WhileActing.SWITCH_CONTEXT: None,
}


def refused_while_acting(actor: Actor, action: WhileActing) -> bool:
    """Whether ``action`` is refused because the actor is acting as someone (login-as)."""
    return bool(actor.real_user_id) and action in _REFUSALS


def refuse_while_acting(actor: Actor, action: WhileActing) -> None:
    """Raise the action's refusal (403) during a login-as support session."""
    if not refused_while_acting(actor, action):
        return
    refusal = _REFUSALS[action]
    if isinstance(refusal, type):
        raise refusal()
    raise Forbidden(refusal)


# -- a view-only support session ----------------------------------------------------------
#
# SPEC §5: a support session started in ``view`` mode changes nothing. The rule is here, and
# it is enforced twice: tenants.web.session.refuse_changes_in_view_only refuses every request
# that may change state (any method but GET/HEAD/OPTIONS) unless its endpoint is listed
# below, and tenants.audit.log.record (which every change goes through to be recorded)
# refuses to record a change made as a view-only actor, for any path the first one missed.
#
# ``can()`` is deliberately not used for it: it also decides what a person *sees* (the
# Invoices tab, every credit account, the settings and API keys pages), and a view-only
# session must see exactly what the person sees.

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# What a view-only session may still post: end it, log out, switch the staff member's own
# language. Endpoints of the web app; nothing else.
ALLOWED_IN_VIEW_ONLY = frozenset({"support.return_to_account", "auth.logout", "auth.set_language"})


def is_view_only(actor: Actor | None) -> bool:
    """Whether the actor acts in a support session that may change nothing (a session
    without a known mode counts as view only)."""
    return bool(actor and actor.real_user_id) and actor.support_mode != SupportMode.CHANGE


def refuse_in_view_only(actor: Actor | None) -> None:
    """Raise the view-only refusal (403) for an actor of a view-only support session."""
    if is_view_only(actor):
        raise ViewOnlySession()


def refuse_request_in_view_only(actor: Actor | None, method: str, endpoint: str | None) -> None:
    """Refuse a web request that may change state during a view-only support session."""
    if method.upper() in SAFE_METHODS or endpoint in ALLOWED_IN_VIEW_ONLY:
        return
    refuse_in_view_only(actor)
