"""Prepaid credits: moving credits between accounts through the append-only ledger.

Every movement is one ledger transaction of postings that sum to zero. Holding accounts
(the system pool, members' individual accounts) keep their balance in a row changed only
by a conditional ``UPDATE … SET balance = balance + :delta WHERE balance + :delta >= 0``
in the same transaction as the postings: the row lock serializes concurrent movements of
one account, the WHERE refuses to go below zero, and a CHECK constraint is the last guard.
Counter-accounts (purchases, usage, withdrawals, adjustments) only receive postings;
their balances are derived, so no row is shared by every request of the platform.

Locks are always taken in one order: holding accounts (by id), then the organization's row,
then the reseller's wholesale pool when the movement gives or takes back credits.
Credits going INTO a member's account are checked under both (``_require_open``): the
member is current and individual credits are on. Removing a member locks its account
(``lock_balances``); switching individual credits off locks every holding account, then
the organization's row FOR UPDATE (``lock_organization``). Either finishes first and the
movement is refused, or it waits for the movement and then sees its credits.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, bindparam, func, insert, or_, select, update

from tenants.access.actors import Actor
from tenants.core.bulk import dialect_insert
from tenants.core.errors import (
    AccountClosed,
    InsufficientCredits,
    OrganizationClosed,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.credits import alerts, forecast, ledger_one
from tenants.credits.holdings import (  # noqa: F401  (the ledger's readers)
    Balance,
    balance,
    member_credits_total,
    total_credits,
)
from tenants.models import Member, Organization, OrganizationStatus
from tenants.models.ledger import (
    HOLDING_KINDS,
    SYSTEM_ACCOUNT,
    AccountKind,
    AccountRef,
    CreditAccount,
    EntryType,
    LedgerEntry,
)
from tenants.wholesale import operations as wholesale


def is_current_member(org: Organization, member_id: str) -> bool:
    """Whether ``member_id`` is one of the organization's members now (not removed)."""
    return (
        db.session.scalar(
            select(Member.id).where(
                Member.id == member_id,
                Member.organization_id == org.id,
                Member.removed_at.is_(None),
            )
        )
        is not None
    )


def parse_account(org: Organization, value, field: str = "account") -> AccountRef:
    """Resolve ``system`` / ``member:<id>`` against the organization's current members."""
    ref = AccountRef.parse(value)
    if ref is not None and ref.kind == AccountKind.SYSTEM:
        return ref
    if ref is not None:
        if not org.individual_user_credits:
            raise ValidationFailed(
                fields={field: str(_l("Individual user credits are not enabled."))}
            )
        if is_current_member(org, ref.member_id):
            return ref
    raise ValidationFailed(fields={field: str(_l("Unknown account."))})


def account_id(org: Organization, ref: AccountRef) -> str:
    """The id of an account, created on first use (race-safe: ON CONFLICT DO NOTHING)."""
    existing = select(CreditAccount.id).where(
        CreditAccount.organization_id == org.id,
        CreditAccount.kind == ref.kind,
        CreditAccount.member_id == ref.member_id,
    )
    found = db.session.scalar(existing)
    if found:
        return found
    now = utcnow()
    db.session.execute(
        dialect_insert(CreditAccount.__table__)
        .values(
            id=new_id("acc"),
            reseller_id=org.reseller_id,
            organization_id=org.id,
            kind=ref.kind,
            member_id=ref.member_id,
            balance=0,
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["organization_id", "kind", "member_id"])
    )
    return db.session.scalar(existing)


# The statements of the busiest write (the API's usage charge) are built once, with bound
# parameters: SQLAlchemy then reuses their memoized cache key and compiled form instead of
# building, keying and compiling a new statement on every call (a third of the request's
# CPU time in the B1 profile, bench/README.md).
_ACCOUNTS = CreditAccount.__table__
_CHANGE_BALANCE = (
    update(_ACCOUNTS)
    .where(
        _ACCOUNTS.c.id == bindparam("account"),
        # Never below what scheduled campaign runs hold reserved (tenants.credits.reservations).
        _ACCOUNTS.c.balance + bindparam("delta") >= _ACCOUNTS.c.reserved,
    )
    .values(balance=_ACCOUNTS.c.balance + bindparam("delta"), updated_at=bindparam("now"))
    .returning(_ACCOUNTS.c.balance)
)
_ORGANIZATIONS = Organization.__table__
_MOVE_TOTAL = (
    update(_ORGANIZATIONS)
    .where(
        _ORGANIZATIONS.c.id == bindparam("organization"),
        _ORGANIZATIONS.c.status != OrganizationStatus.DELETED,
    )
    .values(total_credits=_ORGANIZATIONS.c.total_credits + bindparam("net"))
    .returning(*forecast.FORECAST_STATE)
)
_INSERT_POSTINGS = insert(LedgerEntry.__table__)


@functools.cache
def _accounts_select(count: int):
    """SELECT the ids of ``count`` accounts (kind, member) of one organization."""
    return select(CreditAccount.id, CreditAccount.kind, CreditAccount.member_id).where(
        CreditAccount.organization_id == bindparam("organization"),
        or_(
            *(
                and_(
                    CreditAccount.kind == bindparam(f"kind{i}", type_=CreditAccount.kind.type),
                    CreditAccount.member_id == bindparam(f"member{i}"),
                )
                for i in range(count)
            )
        ),
    )


def _change_balance(account: str, delta: int) -> int | None:
    """Apply ``delta`` under the row lock; the new balance, or None when it would go below
    zero or below the credits reserved for campaigns (available = balance - reserved)."""
    return db.session.execute(
        _CHANGE_BALANCE, {"account": account, "delta": delta, "now": utcnow()}
    ).scalar()


def account_ids(org: Organization, refs) -> dict[AccountRef, str]:
    """The ids of several accounts of the organization in one query; missing ones created."""
    wanted = set(refs)
    params: dict = {"organization": org.id}
    for i, ref in enumerate(wanted):
        params[f"kind{i}"], params[f"member{i}"] = ref.kind, ref.member_id
    # An ORM-enabled select: pending changes are flushed first.
    rows = db.session.execute(_accounts_select(len(wanted)), params).all()
    found = {AccountRef(AccountKind(kind), member_id): acc for acc, kind, member_id in rows}
    for ref in wanted - found.keys():
        found[ref] = account_id(org, ref)
    return found


def lock_balances(org: Organization, refs=None) -> dict[AccountRef, int]:
    """Lock holding accounts and read their balances, for a caller about to empty them.

    FOR NO KEY UPDATE (the lock a balance UPDATE takes), in id order like post_transaction,
    so the caller's own movements between them never deadlock with another movement.
    ``refs`` names the accounts, created when missing (which waits for a movement that is
    creating one); without ``refs``, every holding account the organization has (the
    system pool created first).
    """
    ids = account_ids(org, [SYSTEM_ACCOUNT] if refs is None else refs)
    query = (
        select(CreditAccount.kind, CreditAccount.member_id, CreditAccount.balance)
        .order_by(CreditAccount.id)
        .with_for_update(key_share=True)
    )
    if refs is None:
        query = query.where(
            CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS)
        )
    else:
        query = query.where(CreditAccount.id.in_(ids.values()))
    return {
        AccountRef(AccountKind(kind), member_id): held
        for kind, member_id, held in db.session.execute(query)
    }


def lock_organization(org: Organization) -> None:
    """The organization's row FOR UPDATE, then its fresh state: waits for the movements into
    member accounts under way (``_require_open``) and for every posting being written (the
    ledger's foreign key); take it after the account locks (see the module's docstring)."""
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    db.session.refresh(org)


def lock_for_movement(org: Organization) -> None:
    """The organization's row FOR NO KEY UPDATE, the lock a movement's UPDATE of its total
    takes: serializes with the organization's movements without blocking the ledger rows
    that reference it (FOR KEY SHARE); after the account locks."""
    db.session.execute(
        select(Organization.id).where(Organization.id == org.id).with_for_update(key_share=True)
    )


def _require_open(org: Organization, postings: list[Posting]) -> None:
    """Credits go into members' accounts only while individual credits are on and the
    members are current: read after the account locks, under the organization's row (FOR
    KEY SHARE, which only lock_organization's FOR UPDATE waits for)."""
    member_ids = {
        p.ref.member_id for p in postings if p.ref.kind == AccountKind.MEMBER and p.credits > 0
    }
    if not member_ids:
        return
    enabled = db.session.scalar(
        select(Organization.individual_user_credits)
        .where(Organization.id == org.id)
        .with_for_update(read=True, key_share=True)
    )
    current = db.session.scalar(
        select(func.count(Member.id)).where(
            Member.id.in_(sorted(member_ids)),
            Member.organization_id == org.id,
            Member.removed_at.is_(None),
        )
    )
    if not enabled or current != len(member_ids):
        raise AccountClosed()


# A postpaid organization's credit accounts hold nothing and its movements leave them so:
# the ``balance_after`` of each is this, what the balance (``system_credits``) shows.
POSTPAID_BALANCE = 0


def _move_total(org: Organization, net: int, *, alert: bool):
    """Move the organization's total credits, from which the Customer app lists balances and
    filters low ones, in the same transaction as the postings, after the account locks. Its
    row lock serializes the organization's movements: exactly one crosses the alert level.
    Answers the row's forecast state after the move (forecast.FORECAST_STATE)."""
    state = db.session.execute(_MOVE_TOTAL, {"organization": org.id, "net": net}).one_or_none()
    if state is None:
        raise OrganizationClosed()
    if alert:
        alerts.total_changed(org, state.total_credits - net, state.total_credits)
    return state


@dataclass
class Posting:
    ref: AccountRef
    credits: int
    type: EntryType


def post_transaction(
    actor: Actor,
    org: Organization,
    postings: list[Posting],
    *,
    amount: Decimal | None = None,
    reference: str | None = None,
    occurred_at: datetime | None = None,
    postpaid: bool = False,
    entry_id: str | None = None,  # the first posting's, when a usage claimed it with its reference
    alert: bool = True,  # False: a close-out withdrawal (tenants.credits.alerts)
) -> list[LedgerEntry]:
    """Write one balanced transaction; holding accounts change in a fixed (id) order.

    Postpaid organizations hold no credits: their postings (``postpaid``) go to the system
    account without touching its balance (usage is billed: tenants.billing.postpaid keeps the
    money, and counts it in the forecast), so the balance after them is ``POSTPAID_BALANCE``.
    Round trips: one statement when ledger_one applies (PostgreSQL: a usage, a purchase; the
    forecast's day total and window in it); else the accounts' ids, an UPDATE per holding
    account and of the total, one INSERT of postings, and the forecast's two.
    """
    if sum(p.credits for p in postings) != 0:
        raise ValueError("a ledger transaction must balance")
    transaction_id, now = new_id("txn"), utcnow()
    one = ledger_one.post(
        actor, org, postings, postpaid, amount, reference, occurred_at, entry_id, alert, now
    )
    if one is not None:  # its statement counted the usage in the forecast too
        _draw(org, postings, postpaid, one[0].transaction_id)
        return one
    ids = account_ids(org, [p.ref for p in postings])
    resolved = [(ids[p.ref], p) for p in postings]
    balances: dict[str, int | None] = {}
    for acc, posting in sorted(resolved, key=lambda item: item[0]):
        if posting.ref.kind in HOLDING_KINDS and postpaid:
            balances[acc] = POSTPAID_BALANCE
        elif posting.ref.kind in HOLDING_KINDS:
            balance = _change_balance(acc, posting.credits)
            if balance is None:
                raise InsufficientCredits()
            balances[acc] = balance
    net, state = 0, None
    if not postpaid:
        _require_open(org, postings)
        net = sum(p.credits for p in postings if p.ref.kind in HOLDING_KINDS)
    if net:
        state = _move_total(org, net, alert=alert)
    # Automatic top-ups ask for their jobs here, in this transaction, under the account
    # locks (one transaction crosses a threshold).
    for acc, posting in resolved:
        if posting.ref.kind in HOLDING_KINDS and not postpaid:
            after = balances[acc]
            alerts.balance_changed(org, posting.ref, after - posting.credits, after)
    moment = occurred_at or now
    rows = _posting_rows(
        actor, org, resolved, balances, transaction_id, now, amount, reference, moment, entry_id
    )
    # One Core INSERT for every posting (executemany: psycopg pipelines the rows), no flush.
    db.session.execute(_INSERT_POSTINGS, rows)
    forecast.count_postings(
        org, postings, occurred_at or now, postpaid=postpaid, state=state if alert else None
    )
    _draw(org, postings, postpaid, transaction_id)
    return [LedgerEntry.written(row) for row in rows]


def _posting_rows(
    actor: Actor,
    org: Organization,
    resolved: list[tuple[str, Posting]],
    balances: dict[str, int | None],
    transaction_id: str,
    now: datetime,
    amount: Decimal | None,
    reference: str | None,
    occurred_at: datetime,
    entry_id: str | None,
) -> list[dict]:
    """The ledger rows of post_transaction's general path, one per posting."""
    currency = org.currency if amount is not None else None
    return [
        {
            "id": entry_id if index == 0 and entry_id else new_id("ent"),
            "transaction_id": transaction_id,
            "reseller_id": org.reseller_id,
            "organization_id": org.id,
            "account_id": acc,
            "account_kind": posting.ref.kind,
            "member_id": posting.ref.member_id,
            "type": posting.type,
            "credits": posting.credits,
            "balance_after": balances.get(acc),
            "amount": amount,
            "currency": currency,
            "reference": reference,
            "occurred_at": occurred_at,
            "created_at": now,
            "actor_user_id": actor.user_id,
            "real_user_id": actor.real_user_id,
            "api_key_id": actor.api_key_id,
        }
        for index, (acc, posting) in enumerate(resolved)
    ]


def _draw(org: Organization, postings: list[Posting], postpaid: bool, txn: str) -> None:
    """After the postings and the forecast: what the transaction gives the customer, or
    takes back, out of (or into) its reseller's wholesale pool, last (the pool's row is the
    last lock a movement takes): ResellerCreditsExhausted undoes the whole transaction
    (tenants.wholesale.operations)."""
    wholesale.draw_for_transaction(org, postings, postpaid=postpaid, transaction_id=txn)
