"""Authorization: what each role of SPEC §1 may do, in one table.

Scoping (tenants.access.scoping) decides what an actor can *see* (others get 404); this module
decides what they may *do* with what they can see (others get 403).
"""

from __future__ import annotations

import enum

from tenants.access.actors import SYSTEM, Actor
from tenants.core.errors import Forbidden


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
    TRANSFER_OWNERSHIP = "transfer_ownership"
    MANAGE_CREDITS = "manage_credits"  # buy for the pool, transfer
    WITHDRAW_CREDITS = "withdraw_credits"
    RECORD_PAYMENTS = "record_payments"
    VIEW_AUDIT = "view_audit"
    LOGIN_AS = "login_as"
    VIEW_SUPPORT_SESSIONS = "view_support_sessions"  # every customer's support sessions


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
        ):
            return _reseller_staff(actor)
        case Permission.VIEW_ORGANIZATION:
            return _reseller_staff(actor) or actor.is_platform or actor.is_member or actor.is_api
        case (
            Permission.EDIT_ORGANIZATION_SETTINGS
            | Permission.MANAGE_MEMBERS
            | Permission.MANAGE_CREDITS
            | Permission.VIEW_AUDIT
        ):
            return _reseller_staff(actor) or actor.is_org_admin or actor.is_api
        case Permission.TRANSFER_OWNERSHIP:
            return _reseller_staff(actor) or actor.is_org_owner
        case Permission.LOGIN_AS:
            # SPEC §1 gives login-as to support agents and reseller staff; platform admins
            # manage the platform and do not act as customers (they can be given the
            # support role for that).
            return (actor.is_reseller_staff or actor.is_support_agent) and not actor.real_user_id
        case Permission.VIEW_SUPPORT_SESSIONS:
            return actor.is_reseller_admin or actor.is_platform
    return False


def require(actor: Actor, permission: Permission) -> None:
    if not can(actor, permission):
        raise Forbidden()


def refuse_while_acting(actor: Actor, message) -> None:
    """Some things are never done during a login-as support session (SPEC §5)."""
    if actor.real_user_id:
        raise Forbidden(message)
