"""An organization's holding accounts as read for display and the API: what each holds and,
of that, what scheduled campaign runs hold reserved (available = held - reserved)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.models import Organization
from tenants.models.ledger import HOLDING_KINDS, AccountKind, AccountRef, CreditAccount


@dataclass(frozen=True)
class Balance:
    system_credits: int
    users: list[tuple[str, int]]
    # Held for scheduled campaign runs, by account label ("system", "member:<id>").
    reserved: dict[str, int] = field(default_factory=dict)

    @property
    def reserved_credits(self) -> int:
        return sum(self.reserved.values())

    @property
    def total_credits(self) -> int:
        return self.system_credits + sum(credits for _, credits in self.users)

    @property
    def available_credits(self) -> int:
        """What usage may still take: held - reserved."""
        return self.total_credits - self.reserved_credits


def balance(org: Organization) -> Balance:
    rows = db.session.execute(
        select(
            CreditAccount.kind,
            CreditAccount.member_id,
            CreditAccount.balance,
            CreditAccount.reserved,
        )
        .where(CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS))
        .order_by(CreditAccount.member_id)
    ).all()
    system = sum(b for kind, _, b, _r in rows if kind == AccountKind.SYSTEM)
    users = [(mid, b) for kind, mid, b, _r in rows if kind == AccountKind.MEMBER]
    reserved = {AccountRef(AccountKind(kind), mid).label: r for kind, mid, _b, r in rows if r}
    return Balance(system_credits=system, users=users, reserved=reserved)


def total_credits(org: Organization) -> int:
    """Every credit the organization's holding accounts hold (reserved ones included)."""
    return int(
        db.session.scalar(
            select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
                CreditAccount.organization_id == org.id,
                CreditAccount.kind.in_(HOLDING_KINDS),
            )
        )
    )


def member_credits_total(org: Organization, member_id: str | None = None) -> int:
    """Credits held in members' individual accounts (not the system pool), or in one's."""
    query = select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
        CreditAccount.organization_id == org.id,
        CreditAccount.kind == AccountKind.MEMBER,
    )
    if member_id is not None:
        query = query.where(CreditAccount.member_id == member_id)
    return int(db.session.scalar(query))
