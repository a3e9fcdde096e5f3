"""The accounts of a batch's postings (tenants.credits.ledger_many): their ids, found before
the batch's turn and remembered by each app process, and the holding accounts locked or
debited in id order.

An account is never deleted nor re-keyed (the database refuses both: tenants.models.ledger's
ACCOUNTS_KEPT), so the id of an organization's (kind, member) account, once committed, never
changes: a process remembers the ids it has read or created, from the commit of the
transaction that did (a rolled-back one forgets its own), and a batch of organizations it
has seen reads none of them again (bench/README.md, B6).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session

from tenants.core.bulk import dialect_insert, one_of, pg_array
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.models.ledger import HOLDING_KINDS, AccountKind, AccountRef, CreditAccount

# (organization id, kind, member id): an account's key, as its unique constraint has it.
Key = tuple[str, str, str]

MAX_REMEMBERED = 100_000  # ids a process keeps (about 300 bytes each); all forgotten beyond
_PENDING = "credit_account_ids"  # session.info: ids read or created by this transaction


# An account's id and its key, as every read here returns them first.
_IDENTIFIED = (
    CreditAccount.id,
    CreditAccount.organization_id,
    CreditAccount.kind,
    CreditAccount.member_id,
)


def _remembered() -> dict[Key, str]:
    return current_app.extensions.setdefault("portal_credit_account_ids", {})


def ids_of(keys: set[Key]) -> dict[Key, str]:
    """The ids of the accounts among ``keys`` that exist: remembered, else read in one SELECT
    (no lock: an id never changes)."""
    remembered = _remembered()
    found = {key: remembered[key] for key in keys if key in remembered}
    missing = keys - found.keys()
    if missing:
        rows = db.session.execute(
            select(*_IDENTIFIED).where(
                one_of(CreditAccount.organization_id, sorted({key[0] for key in missing})),
                CreditAccount.kind.in_(sorted({key[1] for key in missing})),
            )
        ).all()
        read = {
            key: acc
            for acc, org_id, kind, member in rows
            if (key := (org_id, str(kind), member)) in missing
        }
        found.update(read)
        db.session.info.setdefault(_PENDING, {}).update(read)
    return found


def counter_accounts(orgs: dict, kinds: set[AccountKind]) -> dict[tuple[str, AccountKind], str]:
    """The ids of the organizations' counter-accounts of ``kinds`` (``orgs``: id → its row or
    object); missing ones created in one INSERT (race-safe: ON CONFLICT DO NOTHING, as
    tenants.credits.ledger.account_id does one by one)."""
    if not kinds:
        return {}
    keys = {(org_id, kind.value, "") for org_id in orgs for kind in kinds}
    found = ids_of(keys)
    missing = sorted(keys - found.keys())
    if missing:
        now = utcnow()
        db.session.execute(
            dialect_insert(CreditAccount.__table__)
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
                    for org_id, kind, _member in missing
                ]
            )
            .on_conflict_do_nothing(index_elements=["organization_id", "kind", "member_id"])
        )
        found.update(ids_of(set(missing)))
    return {(org_id, AccountKind(kind)): acc for (org_id, kind, _m), acc in found.items()}


def holding_ids(refs: set[tuple[str, AccountRef]]) -> dict[tuple[str, AccountRef], str] | None:
    """The ids of these holding accounts, or None when one does not exist (its movements
    are then refused by the walk under the locks)."""
    found = ids_of({(org_id, ref.kind.value, ref.member_id) for org_id, ref in refs})
    ids = {}
    for org_id, ref in refs:
        acc = found.get((org_id, ref.kind.value, ref.member_id))
        if acc is None:
            return None
        ids[(org_id, ref)] = acc
    return ids


def lock_holding(
    org_ids: list[str],
) -> tuple[dict[tuple[str, AccountRef], tuple[str, int]], dict[str, int]]:
    """Lock the organizations' holding accounts in id order; (org, ref) → (id, balance), and
    id → the credits reserved on it (what a debit may not go below)."""
    rows = db.session.execute(
        select(*_IDENTIFIED, CreditAccount.balance, CreditAccount.reserved)
        .where(
            one_of(CreditAccount.organization_id, org_ids), CreditAccount.kind.in_(HOLDING_KINDS)
        )
        .order_by(CreditAccount.id)
        .with_for_update(key_share=True)
    ).all()
    holding = {
        (org_id, AccountRef(AccountKind(kind), member_id)): (acc, balance)
        for acc, org_id, kind, member_id, balance, _reserved in rows
    }
    return holding, {row[0]: row[5] or 0 for row in rows}


# Every account's net debit at once, where each covers it (never below what it reserves),
# the rows locked first in id order (as lock_holding locks them, and a single movement its
# accounts): the UPDATE alone would visit them in whatever order the planner's join gives
# (a hash join on a small table: the heap's). A locking CTE in the same statement cost the
# batch a quarter of its rate (bench/README.md, B6, session 18).
_LOCK_IDS = text(
    "SELECT id FROM credit_accounts WHERE id = ANY(CAST(:ids AS text[]))"
    " ORDER BY id FOR NO KEY UPDATE"
)
_DEBIT_ALL = text(
    "UPDATE credit_accounts AS a SET balance = a.balance + v.delta, updated_at = :now"
    " FROM unnest(CAST(:ids AS text[]), CAST(:deltas AS bigint[])) AS v(id, delta)"
    " WHERE a.id = v.id AND a.balance + v.delta >= a.reserved"
    " RETURNING a.id, a.balance"
)


def debit_all(debits: dict[str, int]) -> dict[str, int] | None:
    """PostgreSQL: lock the accounts in id order and take each one's net debit (``debits``:
    id → credits, negative) in one UPDATE when every one covers it, and answer the balances
    after; None, changing and locking nothing (both undone to a savepoint), when one does
    not: then the accounts are locked and walked movement by movement (ledger_many)."""
    ids = sorted(debits)
    params = {"ids": pg_array(ids), "deltas": pg_array(debits[i] for i in ids), "now": utcnow()}
    nested = db.session.begin_nested()
    db.session.execute(_LOCK_IDS, {"ids": params["ids"]})
    rows = db.session.execute(_DEBIT_ALL, params).all()
    if len(rows) == len(ids):
        nested.commit()
        return dict(rows)
    nested.rollback()
    return None


@event.listens_for(Session, "after_commit")
def _remember(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction goes on
        return
    pending = session.info.pop(_PENDING, None)
    if pending:
        remembered = _remembered()
        if len(remembered) + len(pending) > MAX_REMEMBERED:
            remembered.clear()
        remembered.update(pending)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    if not session.in_nested_transaction():  # the whole transaction is undone
        session.info.pop(_PENDING, None)
