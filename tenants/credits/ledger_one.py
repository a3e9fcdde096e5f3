"""The ledger's posting in one statement on PostgreSQL (tenants.credits.ledger.post_transaction
calls it first, then falls back to its general path when this answers None).

The same steps as post_transaction's general path — account ids, the conditional balance
UPDATE, the organization's total, the postings, and for a usage the forecast's day total and
7-day sum (tenants.credits.forecast.in_place) — in one data-modifying CTE: one round trip
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
from types import SimpleNamespace

from sqlalchemy import (
    BigInteger,
    Date,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from tenants.access.actors import Actor
from tenants.core.errors import InsufficientCredits, OrganizationClosed
from tenants.core.extensions import db
from tenants.core.prepared import Prepared
from tenants.core.types import new_id
from tenants.credits import alerts, forecast
from tenants.models import Organization, OrganizationStatus, UsageDay
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
_DAYS = UsageDay.__table__
# What the statement answers of the organization: the forecast's own columns
# (tenants.credits.forecast.FORECAST_STATE), to count a usage in place or to alert when
# credits leaving without usage cross the alert days.
_COUNTED = (
    "id",
    "status",
    "pricing_model",
    "total_credits",
    "reserved_credits",
    "debt",
    "credit_limit",
    "forecast_usage_7d",
    "forecast_charge_7d",
    "forecast_days_left",
    "forecast_alert_days",
    "forecast_window_start",
)


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


def _balance_and_total(count: int, holding: int, counted: bool):
    """acc: the accounts' ids; bal: the holding account's conditional UPDATE, only when every
    account exists; tot: the organization's total, only when bal moved -- and, ``counted``,
    its forecast's 7-day usage in place when its window has not slid (forecast.InPlace).
    The tables go by short aliases (a, o): the statement stays under psycopg's 4,096
    characters, so its parsed form is cached (bench/b1_profile.py)."""
    accounts, organizations = _ACCOUNTS.alias("a"), _ORGANIZATIONS.alias("o")
    acc = (
        select(accounts.c.id, accounts.c.kind, accounts.c.member_id)
        .where(
            accounts.c.organization_id == bindparam("organization"),
            or_(
                *(
                    and_(
                        accounts.c.kind == bindparam(f"kind{i}", type_=accounts.c.kind.type),
                        accounts.c.member_id == bindparam(f"member{i}"),
                    )
                    for i in range(count)
                )
            ),
        )
        .cte("acc")
    )
    delta = bindparam("delta", type_=BigInteger)
    bal = (
        update(accounts)
        .where(
            accounts.c.id == select(acc.c.id).where(_account_of(acc, holding)).scalar_subquery(),
            accounts.c.balance + delta >= accounts.c.reserved,  # campaigns' reservations
            select(func.count()).select_from(acc).scalar_subquery() == count,
        )
        .values(balance=accounts.c.balance + delta, updated_at=bindparam("now"))
        .returning(accounts.c.balance)
        .cte("bal")
    )
    org = organizations.c
    values = {"total_credits": org.total_credits + delta, "updated_at": bindparam("now")}
    if counted:
        # The row's own columns: a charge that waited for this row's lock adds to what the
        # one before it stored (READ COMMITTED re-reads the row), never to a stale sum.
        values["forecast_usage_7d"] = case(
            (
                org.forecast_window_start == bindparam("p_window", type_=Date),
                org.forecast_usage_7d + bindparam("p_in_window", type_=BigInteger),
            ),
            else_=org.forecast_usage_7d,
        )
    tot = (
        update(organizations)
        .where(
            org.id == bindparam("organization"),
            org.status != OrganizationStatus.DELETED,
            exists(select(bal.c.balance)),
        )
        .values(**values)
        .returning(*(org[name] for name in _COUNTED))
        .cte("tot")
    )
    return acc, bal, tot


def _day(tot):
    """The day's usage total up by the usage's credits (forecast.InPlace), only when tot
    (and so bal) moved."""
    insert_day = pg_insert(_DAYS).from_select(
        ["organization_id", "reseller_id", "day", "credits", "charged"],
        select(
            bindparam("organization", type_=_DAYS.c.organization_id.type),
            bindparam("p_reseller", type_=_DAYS.c.reseller_id.type),
            bindparam("p_day", type_=Date),
            bindparam("p_used", type_=BigInteger),
            literal(Decimal("0"), type_=_DAYS.c.charged.type),
        ).where(exists(select(tot.c.total_credits))),
    )
    return (
        insert_day.on_conflict_do_update(
            index_elements=["organization_id", "day"],
            set_={"credits": _DAYS.c.credits + insert_day.excluded.credits},
        )
        .returning(_DAYS.c.credits)
        .cte("day")
    )


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
def _one_statement(count: int, holding: int, counted: bool):
    """The CTE for ``count`` postings of which the ``holding``-th moves a holding account;
    ins writes the postings; ``counted``: day adds a usage to its day's total. Answers one
    row per account found, with the new balance and the organization's row (NULL when that
    step wrote nothing). Parameters are named apart from every column (``p_…``): an UPDATE in
    a CTE would take a parameter named like a column as a value. Compiled once (Prepared):
    its rows come back as the driver reads them."""
    acc, bal, tot = _balance_and_total(count, holding, counted)
    rows = [_posting_row(acc, bal, tot, i, holding) for i in range(count)]
    ins = (
        insert(_ENTRIES)
        .from_select(list(ENTRY_COLUMNS), union_all(*rows))
        .returning(_ENTRIES.c.id)
        .cte("ins")
    )
    # A CTE is rendered only when the statement names it: its count, which it ignores.
    written = [select(func.count()).select_from(ins).scalar_subquery()]
    if counted:
        written.append(select(func.count()).select_from(_day(tot)).scalar_subquery())
    return Prepared(
        select(
            acc.c.id,
            acc.c.kind,
            acc.c.member_id,
            select(bal.c.balance).scalar_subquery().label("balance"),
            *(tot.c[name] for name in _COUNTED),
            *written,
        ).select_from(acc.outerjoin(tot, true()))
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


def _params(
    actor: Actor,
    org: Organization,
    postings: list,
    holding: int,
    ids: list[str],
    counted: forecast.InPlace | None,
    transaction_id: str,
    now: datetime,
) -> dict:
    """The statement's parameters but for the money, reference and moment of the postings."""
    params: dict = {
        "organization": org.id,
        "p_reseller": org.reseller_id,
        "p_transaction": transaction_id,
        "delta": postings[holding].credits,
        "now": now,
        "p_actor_user": actor.user_id,
        "p_real_user": actor.real_user_id,
        "p_api_key": actor.api_key_id,
    }
    if counted is not None:
        params.update(
            p_day=counted.day,
            p_used=counted.credits,
            p_window=counted.start,
            p_in_window=counted.in_window,
        )
    for i, posting in enumerate(postings):
        params[f"kind{i}"], params[f"member{i}"] = posting.ref.kind, posting.ref.member_id
        params[f"type{i}"], params[f"credits{i}"], params[f"id{i}"] = (
            posting.type,
            posting.credits,
            ids[i],
        )
    return params


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
    counted = forecast.in_place(org, postings, occurred_at)
    params = _params(actor, org, postings, holding, ids, counted, transaction_id, now)
    params.update(
        p_amount=amount,
        p_currency=org.currency if amount is not None else None,
        p_reference=reference,
        p_occurred=occurred_at,
    )
    db.session.flush()  # a Core statement: what the session holds goes first, as before
    statement = _one_statement(len(postings), holding, counted is not None)
    found = statement.execute(params)
    accounts = {AccountRef(AccountKind(kind), member): acc for acc, kind, member, *_ in found}
    if len(accounts) < len({p.ref for p in postings}):
        return None  # nothing was written: an account is missing
    balance = found[0][3]
    state = found[0][4 : 4 + len(_COUNTED)]
    organization = SimpleNamespace(**dict(zip(_COUNTED, state, strict=True)))
    total = organization.total_credits
    if balance is None:
        raise InsufficientCredits()
    if total is None:
        raise OrganizationClosed()  # the caller rolls the balance's UPDATE back
    net = postings[holding].credits
    if alert:
        alerts.total_changed(org, total - net, total)
    alerts.balance_changed(org, postings[holding].ref, balance - net, balance)
    if counted is not None:
        forecast.counted_in_place(org, counted, organization, moved=net)
    elif alert:
        forecast.total_moved(organization, net)
    return _written(postings, ids, accounts, balance, holding, params)


def _written(
    postings: list, ids: list[str], accounts: dict, balance: int, holding: int, params: dict
) -> list[LedgerEntry]:
    """The entries the statement wrote (``params``: its parameters)."""
    return [
        LedgerEntry.written(
            {
                "id": ids[i],
                "transaction_id": params["p_transaction"],
                "reseller_id": params["p_reseller"],
                "organization_id": params["organization"],
                "account_id": accounts[posting.ref],
                "account_kind": posting.ref.kind,
                "member_id": posting.ref.member_id,
                "type": posting.type,
                "credits": posting.credits,
                "balance_after": balance if i == holding else None,
                "amount": params["p_amount"],
                "currency": params["p_currency"],
                "reference": params["p_reference"],
                "occurred_at": params["p_occurred"],
                "created_at": params["now"],
                "actor_user_id": params["p_actor_user"],
                "real_user_id": params["p_real_user"],
                "api_key_id": params["p_api_key"],
            }
        )
        for i, posting in enumerate(postings)
    ]
