"""Credit accounts as people meet them: which ones an actor may manage."""

from __future__ import annotations

from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import Forbidden
from tenants.models.ledger import AccountKind, AccountRef


def can_manage_account(actor: Actor, ref: AccountRef) -> bool:
    return can(actor, Permission.MANAGE_CREDITS) or (
        ref.kind == AccountKind.MEMBER and ref.member_id == actor.member_id
    )


def require_manage_account(actor: Actor, ref: AccountRef) -> None:
    if not can_manage_account(actor, ref):
        raise Forbidden()
