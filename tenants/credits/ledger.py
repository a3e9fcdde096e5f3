"""Prepaid credits: moving credits between accounts through the append-only ledger.

Every movement is one ledger transaction of postings that sum to zero. Holding accounts
(the system pool, members' individual accounts) keep their balance in a row changed only
by a conditional ``UPDATE … SET balance = balance + :delta WHERE balance + :delta >= 0``
in the same transaction as the postings: the row lock serializes concurrent movements of
one account, the WHERE refuses to go below zero, and a CHECK constraint is the last guard.
Counter-accounts (purchases, usage, withdrawals, adjustments) only receive postings;
their balances are derived, so no row is shared by every request of the platform.

Locks are always taken in one order: holding accounts (by id), then the organization's row.
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
from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenants.access.actors import Actor
from tenants.core.errors import (
    AccountClosed,
    DomainError,
    InsufficientCredits,
    OrganizationClosed,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import new_id, new_ids, utcnow
from tenants.credits import alerts
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


def _insert(dialect: str):
    return pg_insert if dialect == "postgresql" else sqlite_insert


def account_id(org: Organization, ref: AccountRef) -> str:
    """The id of an account, created on first use (race-safe: ON CONFLICT DO NOTHING)."""
    found = db.session.scalar(
        select(CreditAccount.id).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == ref.kind,
            CreditAccount.member_id == ref.member_id,
        )
    )
    if found:
        return found
    insert = _insert(db.session.get_bind().dialect.name)
    now = utcnow()
    db.session.execute(
        insert(CreditAccount)
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
    return db.session.scalar(
        select(CreditAccount.id).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == ref.kind,
            CreditAccount.member_id == ref.member_id,
        )
    )


# The statements of the busiest write (the API's usage charge) are built once, with bound
# parameters: SQLAlchemy then reuses their memoized cache key and compiled form instead of
# building, keying and compiling a new statement on every call (a third of the request's
# CPU time in the B1 profile, bench/README.md).
_ACCOUNTS = CreditAccount.__table__
_CHANGE_BALANCE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account"), _ACCOUNTS.c.balance + bindparam("delta") >= 0)
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
    .returning(_ORGANIZATIONS.c.total_credits)
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
    """Apply ``delta`` under the row lock; the new balance, or None when it would go negative."""
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
        AccountRef(AccountKind(kind), member_id): balance
        for kind, member_id, balance in db.session.execute(query)
    }


def lock_organization(org: Organization) -> None:
    """The organization's row FOR UPDATE, then its fresh state: waits for the movements into
    member accounts under way (``_require_open``) and for every posting being written (the
    ledger's foreign key); take it after the account locks (see the module's docstring)."""
    db.session.execute(select(Organization.id).where(Organization.id == org.id).with_for_update())
    db.session.refresh(org)


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


def _move_total(org: Organization, net: int, *, alert: bool) -> None:
    """Move the organization's total credits, from which the Customer app lists balances and
    filters low ones, in the same transaction as the postings, after the account locks. Its
    row lock serializes the organization's movements: exactly one crosses the alert level."""
    total = db.session.execute(_MOVE_TOTAL, {"organization": org.id, "net": net}).scalar()
    if total is None:
        raise OrganizationClosed()
    if alert:
        alerts.total_changed(org, total - net, total)


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

    Postpaid organizations hold no credits: their usage, invoice and payment postings
    (``postpaid``) go to the system account without touching its balance (usage is billed,
    not deducted: tenants.billing.postpaid keeps the money in its own row), so the balance
    after them is the account's, ``POSTPAID_BALANCE``.

    Round trips (the API's usage charge is the platform's busiest write): one SELECT of the
    accounts' ids, one conditional UPDATE per holding account, one UPDATE of the organization's
    total, one INSERT of all the postings (+2 reads for credits into a member's account). The
    entries returned are built in memory (not loaded back through the session).
    """
    if sum(p.credits for p in postings) != 0:
        raise ValueError("a ledger transaction must balance")
    transaction_id, now = new_id("txn"), utcnow()
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
    net = 0
    if not postpaid:
        _require_open(org, postings)
        net = sum(p.credits for p in postings if p.ref.kind in HOLDING_KINDS)
    if net:
        _move_total(org, net, alert=alert)
    # Automatic top-ups ask for their jobs here, in this transaction, under the account
    # locks (one transaction crosses a threshold).
    for acc, posting in resolved:
        if posting.ref.kind in HOLDING_KINDS and not postpaid:
            after = balances[acc]
            alerts.balance_changed(org, posting.ref, after - posting.credits, after)
    currency = org.currency if amount is not None else None
    rows = [
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
            "occurred_at": occurred_at or now,
            "created_at": now,
            "actor_user_id": actor.user_id,
            "real_user_id": actor.real_user_id,
            "api_key_id": actor.api_key_id,
        }
        for index, (acc, posting) in enumerate(resolved)
    ]
    # One Core INSERT for every posting (executemany: psycopg pipelines the rows), no flush.
    db.session.execute(_INSERT_POSTINGS, rows)
    return [LedgerEntry(**row) for row in rows]


# -- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    system_credits: int
    users: list[tuple[str, int]]

    @property
    def total_credits(self) -> int:
        return self.system_credits + sum(credits for _, credits in self.users)


def balance(org: Organization) -> Balance:
    rows = db.session.execute(
        select(CreditAccount.kind, CreditAccount.member_id, CreditAccount.balance)
        .where(CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS))
        .order_by(CreditAccount.member_id)
    ).all()
    system = sum(b for kind, _, b in rows if kind == AccountKind.SYSTEM)
    users = [(mid, b) for kind, mid, b in rows if kind == AccountKind.MEMBER]
    return Balance(system_credits=system, users=users)


def total_credits(org: Organization) -> int:
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


# -- many transactions at once (batch usage) ---------------------------------------------


@dataclass
class Movement:
    """One balanced transaction of ``post_many``: what ``post_transaction`` takes, for one
    organization. ``entry_id``: its first posting's id (a usage claimed it)."""

    org: Organization
    postings: list[Posting]
    reference: str | None = None
    occurred_at: datetime | None = None
    entry_id: str | None = None
    amount: Decimal | None = None  # money (a postpaid charge's), in the organization's currency


_ENTRY_COLUMNS = (
    "id",
    "transaction_id",
    "reseller_id",
    "organization_id",
    "account_id",
    "account_kind",
    "member_id",
    "type",
    "credits",
    "balance_after",
    "amount",
    "currency",
    "reference",
    "occurred_at",
    "created_at",
    "actor_user_id",
    "real_user_id",
    "api_key_id",
)


def post_many(
    actor: Actor, movements: list[Movement], *, postpaid: bool = False
) -> list[str | DomainError]:
    """Write many balanced transactions of prepaid organizations set-based, each standing
    alone: the id of its first posting, or why it was refused (InsufficientCredits,
    OrganizationClosed) — a refused one writes nothing and refuses no other.

    The rules of ``post_transaction``, for movements that take credits OUT of holding
    accounts (usage): credits going into a member's account are checked under the
    organization's row (``_require_open``), one transaction at a time — post_transaction.

    Set-based: the holding accounts of every organization named are locked in id order and
    read (one SELECT … FOR NO KEY UPDATE, the lock a balance UPDATE takes, so batches and
    single movements never deadlock); each account's movements are then decided in memory
    in the order given (a movement that would take an account below zero is refused, the
    next ones still apply); then one UPDATE of the organizations' totals, one of the
    balances (still conditional: never below zero) and the postings in one COPY
    (PostgreSQL) or one executemany (SQLite). Alerts and automatic top-ups are asked once
    per organization and account, from its balance before the batch to after it.

    ``postpaid``: the movements of postpaid organizations, already decided (their money is
    kept by tenants.billing.postpaid): as post_transaction(postpaid=True) they touch no
    balance, total or alert, and the balance after is ``POSTPAID_BALANCE``; all are written.
    """
    for movement in movements:
        if sum(p.credits for p in movement.postings) != 0:
            raise ValueError("a ledger transaction must balance")
        if any(p.ref.kind in HOLDING_KINDS and p.credits > 0 for p in movement.postings):
            raise ValueError("post_many takes credits out of holding accounts only")
    if not movements:
        return []
    orgs = {m.org.id: m.org for m in movements}
    if postpaid:
        return _post_postpaid(actor, movements, orgs)
    # What needs no lock comes first: the locks are held until the commit, and concurrent
    # batches naming the same accounts wait for them.
    counters = _counter_accounts(
        orgs, {p.ref.kind for m in movements for p in m.postings} - set(HOLDING_KINDS)
    )
    holding = _lock_holding(sorted(orgs))
    before = dict(holding.values())
    balances, results = _walk(movements, holding, before)
    closed = _move_totals(movements, results)
    if closed:  # organizations deleted meanwhile: their movements are refused, undone here
        for index, movement in enumerate(movements):
            if movement.org.id in closed:
                results[index] = OrganizationClosed()
        balances, results = _walk(movements, holding, before, results)
    _change_balances({acc: balances[acc] - before[acc] for acc in balances})
    for (org_id, ref), (acc, _balance) in holding.items():
        if balances[acc] != before[acc]:
            alerts.balance_changed(orgs[org_id], ref, before[acc], balances[acc])
    _insert_postings(actor, movements, results, holding, counters, before)
    return results


def _post_postpaid(
    actor: Actor, movements: list[Movement], orgs: dict[str, Organization]
) -> list[str | DomainError]:
    kinds = {p.ref.kind for m in movements for p in m.postings}
    if any(
        p.ref != SYSTEM_ACCOUNT
        for m in movements
        for p in m.postings
        if p.ref.kind in HOLDING_KINDS
    ):
        raise ValueError("postpaid movements post to the system account")
    accounts = _counter_accounts(orgs, kinds)  # the system account too: never locked here
    holding = {
        (org_id, SYSTEM_ACCOUNT): (acc, POSTPAID_BALANCE)
        for (org_id, kind), acc in accounts.items()
        if kind == AccountKind.SYSTEM
    }
    results: list[str | DomainError] = [m.entry_id or new_id("ent") for m in movements]
    before = {acc: POSTPAID_BALANCE for acc, _ in holding.values()}
    _insert_postings(actor, movements, results, holding, accounts, before, postpaid=True)
    return results


def _walk(
    movements: list[Movement],
    holding: dict[tuple[str, AccountRef], tuple[str, int]],
    before: dict[str, int],
    refused: list[str | DomainError] | None = None,
) -> tuple[dict[str, int], list[str | DomainError]]:
    """Each account's movements in order, in memory: a movement that would take one of its
    holding accounts below zero is refused (InsufficientCredits), the next ones still
    apply. ``refused``: results already decided (refusals kept). The balances after, and
    each movement's entry id or refusal."""
    balances = dict(before)
    results: list[str | DomainError] = []
    for index, movement in enumerate(movements):
        if refused is not None and isinstance(refused[index], DomainError):
            results.append(refused[index])
            continue
        changes: list[tuple[str, int]] | None = []
        for posting in movement.postings:
            if posting.ref.kind not in HOLDING_KINDS:
                continue
            found = holding.get((movement.org.id, posting.ref))
            if found is None or balances[found[0]] + posting.credits < 0:
                changes = None
                break
            changes.append((found[0], posting.credits))
        if changes is None:
            results.append(InsufficientCredits())
            continue
        for acc, credits in changes:
            balances[acc] += credits
        previous = refused[index] if refused is not None else None
        results.append(previous or movement.entry_id or new_id("ent"))
    return balances, results


def _postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def one_of(column, values) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter however
    many values (an IN of a thousand placeholders costs more to render and parse than the
    database takes to answer it)."""
    values = list(values)
    if _postgresql():
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


def _lock_holding(org_ids: list[str]) -> dict[tuple[str, AccountRef], tuple[str, int]]:
    """Lock the organizations' holding accounts in id order; (org, ref) → (id, balance)."""
    rows = db.session.execute(
        select(
            CreditAccount.id,
            CreditAccount.organization_id,
            CreditAccount.kind,
            CreditAccount.member_id,
            CreditAccount.balance,
        )
        .where(
            one_of(CreditAccount.organization_id, org_ids), CreditAccount.kind.in_(HOLDING_KINDS)
        )
        .order_by(CreditAccount.id)
        .with_for_update(key_share=True)
    ).all()
    return {
        (org_id, AccountRef(AccountKind(kind), member_id)): (acc, balance)
        for acc, org_id, kind, member_id, balance in rows
    }


def _counter_accounts(
    orgs: dict[str, Organization], kinds: set[AccountKind]
) -> dict[tuple[str, AccountKind], str]:
    """The ids of the organizations' counter-accounts of ``kinds``; missing ones created in
    one INSERT (race-safe: ON CONFLICT DO NOTHING, as account_id does one by one)."""
    if not kinds:
        return {}

    def read() -> dict[tuple[str, AccountKind], str]:
        rows = db.session.execute(
            select(CreditAccount.id, CreditAccount.organization_id, CreditAccount.kind).where(
                one_of(CreditAccount.organization_id, sorted(orgs)),
                CreditAccount.kind.in_(sorted(kinds)),
                CreditAccount.member_id == "",
            )
        ).all()
        return {(org_id, AccountKind(kind)): acc for acc, org_id, kind in rows}

    found = read()
    missing = [(o, k) for o in sorted(orgs) for k in sorted(kinds) if (o, k) not in found]
    if missing:
        now = utcnow()
        insert_ = _insert(db.session.get_bind().dialect.name)
        db.session.execute(
            insert_(CreditAccount)
            .values(
                [
                    {
                        "id": new_id("acc"),
                        "reseller_id": orgs[org_id].reseller_id,
                        "organization_id": org_id,
                        "kind": kind,
                        "member_id": "",
                        "balance": 0,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for org_id, kind in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["organization_id", "kind", "member_id"])
        )
        found = read()
    return found


_MOVE_TOTALS = text(
    "UPDATE organizations AS o SET total_credits = o.total_credits + v.net"
    " FROM unnest(CAST(:ids AS text[]), CAST(:nets AS bigint[])) AS v(id, net)"
    " WHERE o.id = v.id AND o.status != 'deleted'"
    " RETURNING o.id, o.total_credits"
)


def _move_totals(movements: list[Movement], results: list[str | DomainError]) -> set[str]:
    """Move each organization's total by its accepted movements (one UPDATE on PostgreSQL),
    alerting once per organization; the organizations found deleted (nothing moved)."""
    nets: dict[str, int] = {}
    for movement, result in zip(movements, results, strict=True):
        if isinstance(result, str):
            net = sum(p.credits for p in movement.postings if p.ref.kind in HOLDING_KINDS)
            nets[movement.org.id] = nets.get(movement.org.id, 0) + net
    nets = {org_id: net for org_id, net in sorted(nets.items()) if net}
    if not nets:
        return set()
    orgs = {m.org.id: m.org for m in movements}
    if _postgresql():
        totals = dict(
            db.session.execute(_MOVE_TOTALS, {"ids": list(nets), "nets": list(nets.values())}).all()
        )
    else:
        totals = {}
        for org_id, net in nets.items():
            total = db.session.execute(_MOVE_TOTAL, {"organization": org_id, "net": net}).scalar()
            if total is not None:
                totals[org_id] = total
    for org_id, total in totals.items():
        alerts.total_changed(orgs[org_id], total - nets[org_id], total)
    return set(nets) - set(totals)


_CHANGE_BALANCES = text(
    "UPDATE credit_accounts AS a SET balance = a.balance + v.delta, updated_at = :now"
    " FROM unnest(CAST(:ids AS text[]), CAST(:deltas AS bigint[])) AS v(id, delta)"
    " WHERE a.id = v.id AND a.balance + v.delta >= 0"
)


def _change_balances(deltas: dict[str, int]) -> None:
    """Apply each locked account's net change: one conditional UPDATE on PostgreSQL."""
    deltas = {acc: delta for acc, delta in sorted(deltas.items()) if delta}
    if not deltas:
        return
    now = utcnow()
    if _postgresql():
        params = {"ids": list(deltas), "deltas": list(deltas.values()), "now": now}
        changed = db.session.execute(_CHANGE_BALANCES, params).rowcount
    else:
        changed = 0
        for acc, delta in deltas.items():
            params = {"account": acc, "delta": delta, "now": now}
            changed += db.session.execute(_CHANGE_BALANCE, params).scalar() is not None
    if changed != len(deltas):  # the accounts are locked and were read: cannot happen
        raise RuntimeError("a locked balance changed under its lock")


def _insert_postings(
    actor: Actor,
    movements: list[Movement],
    results: list[str | DomainError],
    holding: dict[tuple[str, AccountRef], tuple[str, int]],
    counters: dict[tuple[str, AccountKind], str],
    before: dict[str, int],
    *,
    postpaid: bool = False,
) -> None:
    """The accepted movements' postings, with each holding account's running balance."""
    now = utcnow()
    running = dict(before)
    accepted = [(m, r) for m, r in zip(movements, results, strict=True) if isinstance(r, str)]
    transactions = iter(new_ids("txn", len(accepted)))
    entries = iter(new_ids("ent", sum(len(m.postings) - 1 for m, _ in accepted)))
    rows = []
    for movement, result in accepted:
        org, transaction_id = movement.org, next(transactions)
        for index, posting in enumerate(movement.postings):
            if posting.ref.kind in HOLDING_KINDS:
                acc = holding[(org.id, posting.ref)][0]
                if not postpaid:
                    running[acc] += posting.credits
                balance_after = running[acc]
            else:
                acc, balance_after = counters[(org.id, posting.ref.kind)], None
            rows.append(
                (
                    result if index == 0 else next(entries),
                    transaction_id,
                    org.reseller_id,
                    org.id,
                    acc,
                    posting.ref.kind.value,
                    posting.ref.member_id,
                    posting.type.value,
                    posting.credits,
                    balance_after,
                    movement.amount,
                    org.currency if movement.amount is not None else None,
                    movement.reference,
                    movement.occurred_at or now,
                    now,
                    actor.user_id,
                    actor.real_user_id,
                    actor.api_key_id,
                )
            )
    if not rows:
        return
    if _postgresql():
        # COPY: the fastest way in for many rows, in this transaction (the session's connection).
        cursor = db.session.connection().connection.driver_connection.cursor()
        columns = ", ".join(_ENTRY_COLUMNS)
        with cursor, cursor.copy(f"COPY ledger_entries ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        db.session.execute(
            _INSERT_POSTINGS, [dict(zip(_ENTRY_COLUMNS, row, strict=True)) for row in rows]
        )
