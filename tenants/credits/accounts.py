"""Credit accounts as people meet them: which an actor sees, manages and may buy for, and
their names."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import format_decimal
from sqlalchemy import select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can, may_transfer_from
from tenants.core.errors import Forbidden
from tenants.core.extensions import db
from tenants.credits import ledger, movements
from tenants.credits.movements import account_label
from tenants.models import Member, Organization, User
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef


@dataclass(frozen=True)
class AccountLine:
    value: str
    label: str
    credits: int
    member_id: str = ""
    reserved: int = 0  # of ``credits``, held for scheduled campaign runs

    @property
    def available(self) -> int:
        return self.credits - self.reserved

    @property
    def is_system(self) -> bool:
        return self.value == "system"


def shown_members(actor: Actor, org: Organization) -> list[tuple[str, str]]:
    """(member id, name) of the members whose accounts the actor may see."""
    visible = scoping.members_query(actor, org).with_only_columns(Member.id)
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.id.in_(visible))
        .order_by(User.name, Member.id)
    )
    members = rows.all()
    if not scoping.sees_every_account(actor):
        members = [(mid, name) for mid, name in members if mid == actor.member_id]
    return members


def account_lines(actor: Actor, org: Organization) -> list[AccountLine]:
    """The holding accounts the actor may see, with their balances."""
    balance = ledger.balance(org)
    lines = []
    if scoping.sees_every_account(actor):
        label = account_label(AccountKind.SYSTEM)
        lines.append(
            AccountLine(
                "system",
                label,
                balance.system_credits,
                reserved=balance.reserved.get("system", 0),
            )
        )
    if org.individual_user_credits:
        held = dict(balance.users)
        for member_id, name in shown_members(actor, org):
            lines.append(
                AccountLine(
                    f"member:{member_id}",
                    account_label(AccountKind.MEMBER, name),
                    held.get(member_id, 0),
                    member_id,
                    reserved=balance.reserved.get(f"member:{member_id}", 0),
                )
            )
    return lines


def manageable(accounts: list[AccountLine], actor: Actor) -> list[AccountLine]:
    return [
        line
        for line in accounts
        if can_manage_account(
            actor,
            SYSTEM_ACCOUNT if line.is_system else AccountRef(AccountKind.MEMBER, line.member_id),
        )
    ]


def purchasable(accounts: list[AccountLine], actor: Actor) -> list[AccountLine]:
    lines = manageable(accounts, actor)
    if not can(actor, Permission.MANAGE_CREDITS):
        lines = [line for line in lines if not line.is_system]
    return lines


def _ref(line: AccountLine) -> AccountRef:
    return SYSTEM_ACCOUNT if line.is_system else AccountRef(AccountKind.MEMBER, line.member_id)


def transfer_sources(actor: Actor, org: Organization) -> list[AccountLine]:
    """The accounts the actor may move credits out of (policy.may_transfer_from), with their
    balances: every account for those who manage credits, a plain member's own account."""
    return [a for a in account_lines(actor, org) if may_transfer_from(actor, org.id, _ref(a))]


def transfer_targets(actor: Actor, org: Organization) -> list[tuple[str, str]]:
    """(value, label) of the accounts the actor may move credits into: with their balances
    for those who see every account; for a plain member the pool and their colleagues'
    accounts by name (scoping.transfer_recipients_query), without balances."""
    if scoping.sees_every_account(actor):
        return [
            (a.value, f"{a.label} ({format_decimal(a.credits)})") for a in account_lines(actor, org)
        ]
    if not org.individual_user_credits:
        return []
    recipients = scoping.transfer_recipients_query(actor, org).with_only_columns(Member.id)
    rows = db.session.execute(
        select(Member.id, User.name)
        .join(User, User.id == Member.user_id)
        .where(Member.id.in_(recipients), Member.id != actor.member_id)
        .order_by(User.name, Member.id)
    )
    return [("system", account_label(AccountKind.SYSTEM))] + [
        (f"member:{member_id}", account_label(AccountKind.MEMBER, name))
        for member_id, name in rows.all()
    ]


def account_name(org: Organization, notation: str) -> str:
    """The label of the account a purchase or a log filter names, removed members included."""
    ref = AccountRef.parse(notation) or AccountRef(AccountKind.MEMBER, notation)
    if ref.kind == AccountKind.SYSTEM:
        return account_label(AccountKind.SYSTEM)
    return account_label(
        AccountKind.MEMBER, movements.member_names(org).get(ref.member_id, ref.member_id)
    )


def can_manage_account(actor: Actor, ref: AccountRef) -> bool:
    return can(actor, Permission.MANAGE_CREDITS) or (
        ref.kind == AccountKind.MEMBER and ref.member_id == actor.member_id
    )


def require_manage_account(actor: Actor, ref: AccountRef) -> None:
    if not can_manage_account(actor, ref):
        raise Forbidden()
