"""The ledger's posting in one statement on PostgreSQL (tenants.credits.ledger.post_transaction
calls it first, then falls back to its general path when this answers None).

The same steps as post_transaction's general path — account ids, the conditional balance
UPDATE, the organization's total, the postings — in one data-modifying CTE: one round trip
and a shorter hold of the hot organization's row locks. Locks are taken in the same order
(the account's UPDATE feeds the organization's), and each step writes only when the step
before it did: no holding row updated (credits short), no total moved, no posting written.
It applies to a prepaid transaction with exactly one holding account (no lock order to keep
between two) and no credits into a member's account (those are checked under the
organization's row first: ledger._require_open): a usage, a purchase, a top-up.

This module imports nothing from ledger (ledger imports it); a posting is anything with
``ref``, ``credits`` and ``type``.
"""

from __future__ import annotations

import functools
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    and_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)

from tenants.access.actors import Actor
from tenants.core.errors import InsufficientCredits, OrganizationClosed
from tenants.core.extensions import db
from tenants.core.types import new_id
from tenants.credits import alerts
from tenants.models import Organization, OrganizationStatus
from tenants.models.ledger import (
    ENTRY_COLUMNS,
    HOLDING_KINDS,
    AccountKind,
    AccountRef,
    CreditAccount,
    LedgerEntry,
)

_ACCOUNTS = CreditAccount.__table__
_ORGANIZATIONS = Organization.__table__
_ENTRIES = LedgerEntry.__table__


def _in_one_statement(org: Organization, postings: list, postpaid: bool) -> bool:
    """Whether this transaction can be one statement: PostgreSQL, prepaid, exactly one
    holding account (no lock order to keep between two), no credits into a member's account
    (those are checked under the organization's row first: ``ledger._require_open``)."""
    if postpaid or db.session.get_bind().dialect.name != "postgresql":
        return False
    holding = [p for p in postings if p.ref.kind in HOLDING_KINDS]
    return len(holding) == 1 and not (
        holding[0].ref.kind == AccountKind.MEMBER and holding[0].credits > 0
    )


def _account_of(acc, i: int):
    """The ``i``-th posting's account among the CTE ``acc``'s rows."""
    return and_(
        acc.c.kind == bindparam(f"kind{i}", type_=_ACCOUNTS.c.kind.type),
        acc.c.member_id == bindparam(f"member{i}"),
    )


def _balance_and_total(count: int, holding: int):
    """acc: the accounts' ids; bal: the holding account's conditional UPDATE, only when every
    account exists; tot: the organization's total, only when bal moved."""
    acc = (
        select(_ACCOUNTS.c.id, _ACCOUNTS.c.kind, _ACCOUNTS.c.member_id)
        .where(
            _ACCOUNTS.c.organization_id == bindparam("organization"),
            or_(
                *(
                    and_(
                        _ACCOUNTS.c.kind == bindparam(f"kind{i}", type_=_ACCOUNTS.c.kind.type),
                        _ACCOUNTS.c.member_id == bindparam(f"member{i}"),
                    )
                    for i in range(count)
                )
            ),
        )
        .cte("acc")
    )
    delta = bindparam("delta", type_=BigInteger)
    bal = (
        update(_ACCOUNTS)
        .where(
            _ACCOUNTS.c.id == select(acc.c.id).where(_account_of(acc, holding)).scalar_subquery(),
            _ACCOUNTS.c.balance + delta >= _ACCOUNTS.c.reserved,  # campaigns' reservations
            select(func.count()).select_from(acc).scalar_subquery() == count,
        )
        .values(balance=_ACCOUNTS.c.balance + delta, updated_at=bindparam("now"))
        .returning(_ACCOUNTS.c.balance)
        .cte("bal")
    )
    tot = (
        update(_ORGANIZATIONS)
        .where(
            _ORGANIZATIONS.c.id == bindparam("organization"),
            _ORGANIZATIONS.c.status != OrganizationStatus.DELETED,
            exists(select(bal.c.balance)),
        )
        .values(total_credits=_ORGANIZATIONS.c.total_credits + delta, updated_at=bindparam("now"))
        .returning(_ORGANIZATIONS.c.total_credits)
        .cte("tot")
    )
    return acc, bal, tot


def _posting_row(acc, bal, tot, i: int, holding: int):
    """The ``i``-th posting as a SELECT: no row unless tot (and so bal) moved."""
    c = _ENTRIES.c
    return (
        select(
            bindparam(f"id{i}", type_=c.id.type),
            bindparam("p_transaction", type_=c.transaction_id.type),
            bindparam("p_reseller", type_=c.reseller_id.type),
            bindparam("organization", type_=c.organization_id.type),
            acc.c.id,
            acc.c.kind,
            acc.c.member_id,
            bindparam(f"type{i}", type_=c.type.type),
            bindparam(f"credits{i}", type_=c.credits.type),
            bal.c.balance if i == holding else null(),
            cast(bindparam("p_amount", type_=c.amount.type), c.amount.type),
            bindparam("p_currency", type_=c.currency.type),
            bindparam("p_reference", type_=c.reference.type),
            bindparam("p_occurred", type_=c.occurred_at.type),
            bindparam("now", type_=c.created_at.type),
            bindparam("p_actor_user", type_=c.actor_user_id.type),
            bindparam("p_real_user", type_=c.real_user_id.type),
            bindparam("p_api_key", type_=c.api_key_id.type),
        )
        .select_from(acc.join(tot, true()).join(bal, true()))
        .where(_account_of(acc, i))
    )


@functools.cache
def _one_statement(count: int, holding: int):
    """The CTE for ``count`` postings of which the ``holding``-th moves a holding account;
    ins writes the postings. Answers one row per account found, with the new balance and
    total (NULL when that step wrote nothing). Parameters are named apart from every column
    (``p_…``): an UPDATE in a CTE would take a parameter named like a column as a value."""
    acc, bal, tot = _balance_and_total(count, holding)
    rows = [_posting_row(acc, bal, tot, i, holding) for i in range(count)]
    ins = (
        insert(_ENTRIES)
        .from_select(list(ENTRY_COLUMNS), union_all(*rows))
        .returning(_ENTRIES.c.id)
        .cte("ins")
    )
    return select(
        acc.c.id,
        acc.c.kind,
        acc.c.member_id,
        select(bal.c.balance).scalar_subquery(),
        select(tot.c.total_credits).scalar_subquery(),
        select(func.count()).select_from(ins).scalar_subquery(),
    )


def post(
    actor: Actor,
    org: Organization,
    postings: list,
    postpaid: bool,
    amount: Decimal | None,
    reference: str | None,
    occurred_at: datetime | None,
    entry_id: str | None,
    alert: bool,
    now: datetime,
) -> list[LedgerEntry] | None:
    """post_transaction in one statement, or None (nothing written) when it does not apply
    or an account is still to be created: the general path then does it (and creates it).
    ``now``: post_transaction's clock (the ledger's ``utcnow``)."""
    if not _in_one_statement(org, postings, postpaid):
        return None
    return _post_in_one_statement(
        actor,
        org,
        postings,
        transaction_id=new_id("txn"),
        now=now,
        amount=amount,
        reference=reference,
        occurred_at=occurred_at or now,
        entry_id=entry_id,
        alert=alert,
    )


def _post_in_one_statement(
    actor: Actor,
    org: Organization,
    postings: list,
    *,
    transaction_id: str,
    now: datetime,
    amount: Decimal | None,
    reference: str | None,
    occurred_at: datetime,
    entry_id: str | None,
    alert: bool,
) -> list[LedgerEntry] | None:
    """post_transaction in one statement; None (nothing written) when an account is still
    to be created: the general path then creates it."""
    holding = next(i for i, p in enumerate(postings) if p.ref.kind in HOLDING_KINDS)
    ids = [entry_id if i == 0 and entry_id else new_id("ent") for i in range(len(postings))]
    params: dict = {
        "organization": org.id,
        "p_reseller": org.reseller_id,
        "p_transaction": transaction_id,
        "delta": postings[holding].credits,
        "now": now,
        "p_amount": amount,
        "p_currency": org.currency if amount is not None else None,
        "p_reference": reference,
        "p_occurred": occurred_at,
        "p_actor_user": actor.user_id,
        "p_real_user": actor.real_user_id,
        "p_api_key": actor.api_key_id,
    }
    for i, posting in enumerate(postings):
        params[f"kind{i}"], params[f"member{i}"] = posting.ref.kind, posting.ref.member_id
        params[f"type{i}"], params[f"credits{i}"], params[f"id{i}"] = (
            posting.type,
            posting.credits,
            ids[i],
        )
    db.session.flush()  # a Core statement: what the session holds goes first, as before
    found = db.session.execute(_one_statement(len(postings), holding), params).all()
    accounts = {AccountRef(AccountKind(kind), member): acc for acc, kind, member, *_ in found}
    if len(accounts) < len({p.ref for p in postings}):
        return None  # nothing was written: an account is missing
    _acc, _kind, _member, balance, total, _written = found[0]
    if balance is None:
        raise InsufficientCredits()
    if total is None:
        raise OrganizationClosed()  # the caller rolls the balance's UPDATE back
    net = postings[holding].credits
    if alert:
        alerts.total_changed(org, total - net, total)
    alerts.balance_changed(org, postings[holding].ref, balance - net, balance)
    return [
        LedgerEntry(
            id=ids[i],
            transaction_id=transaction_id,
            reseller_id=org.reseller_id,
            organization_id=org.id,
            account_id=accounts[posting.ref],
            account_kind=posting.ref.kind,
            member_id=posting.ref.member_id,
            type=posting.type,
            credits=posting.credits,
            balance_after=balance if i == holding else None,
            amount=amount,
            currency=params["p_currency"],
            reference=reference,
            occurred_at=occurred_at,
            created_at=now,
            actor_user_id=actor.user_id,
            real_user_id=actor.real_user_id,
            api_key_id=actor.api_key_id,
        )
        for i, posting in enumerate(postings)
    ]
