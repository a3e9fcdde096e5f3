"""A batch's postings as rows (tenants.credits.ledger_many): made before its turn, their
holding accounts, balances after and creation time filled under the accounts' locks, and
written in one binary COPY (PostgreSQL) or one executemany (SQLite)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tenants.access.actors import Actor
from tenants.core.bulk import binary_types
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.core.types import new_ids, utcnow
from tenants.credits.ledger import _INSERT_POSTINGS, Posting
from tenants.models import Organization
from tenants.models.ledger import (
    ENTRY_COLUMNS,
    HOLDING_KINDS,
    AccountKind,
    AccountRef,
    EntryType,
    LedgerEntry,
)


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


_ENTRY_TYPES = binary_types(LedgerEntry.__table__, ENTRY_COLUMNS)  # the postings' COPY


def posting_rows(
    actor: Actor,
    movements: list[Movement],
    results: list[str | DomainError],
    counters: dict[tuple[str, AccountKind], str],
) -> tuple[list[list], list[tuple[list, AccountRef]]]:
    """The accepted movements' postings as COPY rows (ENTRY_COLUMNS), and the rows of
    holding postings with their account: those rows' account, balance after and creation
    time are filled by insert_postings, under the accounts' locks."""
    accepted = [(m, r) for m, r in zip(movements, results, strict=True) if isinstance(r, str)]
    transactions = iter(new_ids("txn", len(accepted)))
    entries = iter(new_ids("ent", sum(len(m.postings) - 1 for m, _ in accepted)))
    rows: list[list] = []
    holding_rows: list[tuple[list, AccountRef]] = []
    # A batch makes thousands of rows: the actor's ids and each kind's and type's text are
    # read once, not once a row.
    by_actor = (actor.user_id, actor.real_user_id, actor.api_key_id)
    text = {member: member.value for member in (*AccountKind, *EntryType)}
    for movement, result in accepted:
        org, transaction_id = movement.org, next(transactions)
        org_id, reseller_id = org.id, org.reseller_id
        amount, reference, occurred = movement.amount, movement.reference, movement.occurred_at
        currency = org.currency if amount is not None else None
        first = True
        for posting in movement.postings:
            ref = posting.ref
            kind = ref.kind
            held = kind in HOLDING_KINDS
            row = [
                result if first else next(entries),
                transaction_id,
                reseller_id,
                org_id,
                None if held else counters[(org_id, kind)],
                text[kind],
                ref.member_id,
                text[posting.type],
                posting.credits,
                None,
                amount,
                currency,
                reference,
                occurred,
                None,
                *by_actor,
            ]
            first = False
            rows.append(row)
            if held:
                holding_rows.append((row, ref))
    return rows, holding_rows


# The row positions insert_postings reads and fills (ENTRY_COLUMNS).
_ORGANIZATION, _ACCOUNT, _CREDITS, _BALANCE_AFTER, _OCCURRED, _CREATED = (
    ENTRY_COLUMNS.index(name)
    for name in (
        "organization_id",
        "account_id",
        "credits",
        "balance_after",
        "occurred_at",
        "created_at",
    )
)


def name_accounts(
    holding_rows: list[tuple[list, AccountRef]], ids: dict[tuple[str, AccountRef], str]
) -> None:
    """Fill the holding rows' account from ``ids`` ((organization, ref) → account id), known
    before the locks: insert_postings then only adds up their balances."""
    for row, ref in holding_rows:
        row[_ACCOUNT] = ids[(row[_ORGANIZATION], ref)]


def insert_postings(
    rows: list[list],
    holding_rows: list[tuple[list, AccountRef]],
    holding: dict[tuple[str, AccountRef], tuple[str, int]],
    before: dict[str, int],
    *,
    postpaid: bool = False,
) -> None:
    """The postings ``rows``, each holding posting with its account (unless name_accounts
    named it) and that account's running balance, all created now."""
    now = utcnow()
    running = dict(before)
    for row, ref in holding_rows:
        acc = row[_ACCOUNT] or holding[(row[_ORGANIZATION], ref)][0]
        if not postpaid:
            running[acc] += row[_CREDITS]
        row[_ACCOUNT], row[_BALANCE_AFTER] = acc, running[acc]
    for row in rows:
        row[_CREATED] = now
        if row[_OCCURRED] is None:
            row[_OCCURRED] = now
    if not rows:
        return
    if db.session.get_bind().dialect.name == "postgresql":
        cursor = db.session.connection().connection.driver_connection.cursor()
        statement = f"COPY ledger_entries ({', '.join(ENTRY_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with cursor, cursor.copy(statement) as copy:
            copy.set_types(_ENTRY_TYPES)
            for row in rows:
                copy.write_row(row)
    else:
        db.session.execute(
            _INSERT_POSTINGS, [dict(zip(ENTRY_COLUMNS, row, strict=True)) for row in rows]
        )
