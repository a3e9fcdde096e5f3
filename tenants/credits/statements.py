"""Statements of credits: an organization's holding accounts (or one of them) between two
instants: the opening balance, every movement with the balance it leaves, the closing
balance, and the check that the opening plus the movements is the closing.

Read-only. The month and its bounds are the caller's (tenants.billing.statements turns a
month of the organization's timezone into UTC instants); movements are dated as the logs
date them, by when they happened (``occurred_at``), so a statement lists what the Logs tab
lists for those days.

Two queries, whatever the history's size: one SELECT gives both balances (the accounts'
balances now, less what moved since each bound: one range of the
``ix_ledger_entries_org_occurred_id`` index from the start, the accounts' rows from
``uq_credit_accounts_owner``, which starts with the organization and kind) and one streams
the movements in order on the same index. The opening and closing come from the aggregate,
the movements from the stream: the check proves the stream holds exactly the movements
between them (no day lost or counted twice at a timezone's month boundary, no account shown
in one and not the other).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.extensions import db
from tenants.credits.movements import movements_query
from tenants.models import CreditAccount, EntryType, LedgerEntry, Member, Organization, User
from tenants.models.ledger import AccountKind, AccountRef

STREAM_BATCH = 1000


@dataclass(frozen=True)
class StatementLine:
    """One movement of a statement, with the balance (credits) or the debt (money) after it."""

    occurred_at: datetime
    type: str  # an EntryType value, or one of the postpaid statement's kinds
    reference: str
    change: object  # int credits, or Decimal money
    balance: object
    account_kind: AccountKind | None = None
    member_name: str | None = None
    credits: int | None = None
    amount: Decimal | None = None
    tax: Decimal | None = None


@dataclass
class Tally:
    """What a walk through a statement's lines added up (filled as the lines go by)."""

    count: int = 0
    moved: object = 0
    totals: dict = field(default_factory=dict)  # type: Σ change
    counts: dict = field(default_factory=dict)  # type: how many
    amounts: dict = field(default_factory=dict)  # type: Σ amount (postpaid)
    taxes: dict = field(default_factory=dict)  # type: Σ tax (postpaid)


@dataclass
class Statement:
    """A statement: ``kind`` "credits" (prepaid, whole credits) or "debt" (postpaid, money in
    ``currency``). ``lines()`` streams the movements (each call a new query) and fills
    ``tally``; ``balanced`` is the check, known once the lines were walked."""

    kind: str
    organization: Organization
    account: AccountRef | None
    start: datetime
    end: datetime
    opening: object
    closing: object
    stream: object  # a callable giving the lines, without the running balance
    currency: str | None = None
    tally: Tally = field(default_factory=Tally)
    walked: bool = False

    def lines(self) -> Iterator[StatementLine]:
        zero = 0 if self.kind == "credits" else Decimal(0)
        self.tally = Tally(moved=zero)
        running = self.opening
        for line in self.stream():
            running += line.change
            self.tally.count += 1
            self.tally.moved += line.change
            self._count(line, zero)
            yield replace(line, balance=running)
        self.walked = True

    def _count(self, line: StatementLine, zero) -> None:
        tally, key = self.tally, line.type
        tally.totals[key] = tally.totals.get(key, zero) + line.change
        tally.counts[key] = tally.counts.get(key, 0) + 1
        if line.amount is not None:
            tally.amounts[key] = tally.amounts.get(key, Decimal(0)) + line.amount
        if line.tax is not None:
            tally.taxes[key] = tally.taxes.get(key, Decimal(0)) + line.tax

    @property
    def balanced(self) -> bool:
        """opening + Σ movements == closing (False until the lines were walked)."""
        return self.walked and self.opening + self.tally.moved == self.closing

    @property
    def difference(self):
        return self.closing - (self.opening + self.tally.moved)


def read_in_one_snapshot() -> None:
    """On PostgreSQL, read what follows in one REPEATABLE READ transaction: the balances and
    the streamed movements of a statement then see the same committed ledger, so a movement
    recorded while it is read cannot appear in one and not the other. Ends the read-only
    transaction the request's lookups opened (nothing is written here). SQLite, one writer
    at a time, needs nothing."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    db.session.rollback()
    db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _account_clause(ref: AccountRef | None, kind_column, member_column):
    if ref is None:
        return None
    return and_(kind_column == ref.kind, member_column == ref.member_id)


def _balances(
    actor: Actor, org: Organization, ref: AccountRef | None, start: datetime, end: datetime
) -> tuple[int, int]:
    """The opening and closing balances, in one SELECT (one snapshot): the balances the
    accounts hold now, less the credits that moved from each bound on."""
    accounts = select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
        CreditAccount.organization_id == org.id,
        CreditAccount.reseller_id == org.reseller_id,
        scoping.visible_holding_accounts(actor, org),
    )
    entries = select(
        func.coalesce(func.sum(LedgerEntry.credits), 0).label("since_start"),
        func.coalesce(
            func.sum(case((LedgerEntry.occurred_at >= end, LedgerEntry.credits), else_=0)), 0
        ).label("since_end"),
    ).where(
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        LedgerEntry.occurred_at >= start,
        scoping.visible_accounts(actor, org),
    )
    account = _account_clause(ref, CreditAccount.kind, CreditAccount.member_id)
    if account is not None:
        accounts = accounts.where(account)
        entries = entries.where(
            _account_clause(ref, LedgerEntry.account_kind, LedgerEntry.member_id)
        )
    since = entries.subquery()
    held, since_start, since_end = db.session.execute(
        select(accounts.scalar_subquery(), since.c.since_start, since.c.since_end)
    ).one()
    return int(held) - int(since_start), int(held) - int(since_end)


def _movement_lines(actor: Actor, org: Organization, ref, start: datetime, end: datetime):
    """The movements between the bounds, the first to happen first, streamed in batches
    with the member's name joined in (no query per row)."""
    query = movements_query(actor, org, account=ref, since=start, until=end)
    moves = query.order_by(None).subquery()
    entry = moves.c
    member_user = aliased(User)
    rows = (
        select(
            entry.occurred_at,
            entry.type,
            entry.reference,
            entry.credits,
            entry.account_kind,
            member_user.name,
        )
        .select_from(moves)
        .outerjoin(Member, and_(Member.id == entry.member_id, entry.member_id != ""))
        .outerjoin(member_user, member_user.id == Member.user_id)
        .order_by(entry.occurred_at.asc(), entry.id.asc())
    )

    def stream() -> Iterator[StatementLine]:
        result = db.session.execute(
            rows.execution_options(yield_per=STREAM_BATCH, stream_results=True)
        )
        try:
            for occurred_at, kind, reference, credits, account_kind, name in result:
                yield StatementLine(
                    occurred_at=occurred_at,
                    type=EntryType(kind).value,
                    reference=reference or "",
                    change=int(credits),
                    balance=None,
                    account_kind=AccountKind(account_kind),
                    member_name=name,
                    credits=int(credits),
                )
        finally:
            result.close()

    return stream


def credit_statement(
    actor: Actor,
    org: Organization,
    start: datetime,
    end: datetime,
    account=None,
) -> Statement:
    """The statement of the holding accounts of ``org`` the actor may read (``account``:
    one of them, ``system`` or ``member:<id>``) for ``start`` ≤ occurred_at < ``end``.
    Another tenant's organization or an account not of this one is NotFound; an account the
    actor may not read, Forbidden."""
    org = scoping.get_organization(actor, org.id, include_deleted=True)
    ref = None if account in (None, "") else scoping.get_holding_account(actor, org, account)
    opening, closing = _balances(actor, org, ref, start, end)
    return Statement(
        kind="credits",
        organization=org,
        account=ref,
        start=start,
        end=end,
        opening=opening,
        closing=closing,
        stream=_movement_lines(actor, org, ref, start, end),
    )
