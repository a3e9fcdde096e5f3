"""Usage references: a reference is charged once per organization (SPEC §4).

A usage claims its reference by inserting ``(organization, reference)`` into
``usage_references`` — ``INSERT … ON CONFLICT DO NOTHING RETURNING`` — before it charges, in
the same transaction, with the id its ledger entry is then written with. The primary key
decides, never a lookup that races: on PostgreSQL a concurrent claim of the same reference
waits for the first transaction and, when that commits, finds the conflict (when it rolls
back, it claims the reference itself). A conflict means the reference was charged before:
the usage charges nothing and answers with the first entry. A refused usage rolls back with
its claim (a batch releases the claims of its refused events), so the sender may retry.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, delete, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenants.core.bulk import pg_array
from tenants.core.extensions import db
from tenants.core.prepared import Prepared
from tenants.core.types import new_id, new_ids, utcnow
from tenants.core.validation import clean_text
from tenants.models import LedgerEntry, Organization
from tenants.models.usage_references import UsageReference

MAX_REFERENCE = 200
_TABLE = UsageReference.__table__
_KEY = (_TABLE.c.organization_id, _TABLE.c.reference)


@dataclass(frozen=True)
class Claim:
    """A reference's claim: ``entry_id`` is the entry this usage is to write, or (``first``
    False) the entry its first charge wrote."""

    entry_id: str
    first: bool = True


@dataclass(frozen=True)
class Recorded:
    """What recording a usage answers: its ledger entry, or for a reference charged before
    the first charge's entry with ``duplicate`` set (nothing was charged now)."""

    entry: LedgerEntry
    duplicate: bool = False


def clean_reference(value) -> str:
    return clean_text(value, "reference", max_length=MAX_REFERENCE)


@functools.cache
def _claim_one(dialect: str):
    """The single claim, built once (the API's usage charge is the busiest write)."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(_TABLE)
        .values(
            organization_id=bindparam("organization"),
            reference=bindparam("reference"),
            reseller_id=bindparam("reseller"),
            entry_id=bindparam("entry"),
            created_at=bindparam("now"),
        )
        .on_conflict_do_nothing(index_elements=list(_KEY))
        .returning(_TABLE.c.entry_id)
    )


def claim(org: Organization, reference: str) -> Claim:
    """Claim ``reference`` for a new usage of ``org``: one INSERT when it is new."""
    entry_id = new_id("ent")
    params = {
        "organization": org.id,
        "reference": reference,
        "reseller": org.reseller_id,
        "entry": entry_id,
        "now": utcnow(),
    }
    dialect = db.session.get_bind().dialect.name
    if db.session.execute(_claim_one(dialect), params).first() is not None:
        return Claim(entry_id)
    first = db.session.scalar(
        select(_TABLE.c.entry_id).where(
            _TABLE.c.organization_id == org.id, _TABLE.c.reference == reference
        )
    )
    return Claim(first, first=False)


@functools.cache
def _read_and_claim(query: Select):
    """``query`` (one organization, scoping.organization_row_query) and the claim of a
    reference for the organization it finds, in one data-modifying CTE (PostgreSQL)."""
    org = query.cte("org")
    claimed = (
        pg_insert(_TABLE)
        .from_select(
            ["organization_id", "reference", "reseller_id", "entry_id", "created_at"],
            select(
                org.c.id,
                bindparam("p_reference", type_=_TABLE.c.reference.type),
                org.c.reseller_id,
                bindparam("p_entry", type_=_TABLE.c.entry_id.type),
                bindparam("p_now", type_=_TABLE.c.created_at.type),
            ),
        )
        .on_conflict_do_nothing(index_elements=list(_KEY))
        .returning(_TABLE.c.entry_id)
        .cte("claimed")
    )
    return Prepared(
        select(org, select(claimed.c.entry_id).scalar_subquery().label("claimed_entry"))
    )


def claim_in_organization(query: Select, params: dict, reference: str):
    """Read the organization ``query`` finds and claim ``reference`` (already cleaned) for
    it: one statement on PostgreSQL, two elsewhere. (row or None, Claim or None)."""
    if db.session.get_bind().dialect.name != "postgresql":
        row = db.session.execute(query, params).first()
        return (row, claim(row, reference)) if row is not None else (None, None)
    entry_id = new_id("ent")
    rows = _read_and_claim(query).execute(
        {**params, "p_reference": reference, "p_entry": entry_id, "p_now": utcnow()}
    )
    if not rows:
        return None, None
    row = rows[0]
    if row.claimed_entry is not None:
        return row, Claim(entry_id)
    first = db.session.scalar(
        select(_TABLE.c.entry_id).where(
            _TABLE.c.organization_id == row.id, _TABLE.c.reference == reference
        )
    )
    return row, Claim(first, first=False)


# A batch's claims on PostgreSQL: one array per column (a multi-row VALUES of 5,000 bound
# parameters costs more to build and compile in Python than to run), rows in the order
# given (WITH ORDINALITY): key order, so concurrent batches never deadlock.
_CLAIM_UNNEST = text(
    "INSERT INTO usage_references"
    " (organization_id, reference, reseller_id, entry_id, created_at)"
    " SELECT v.organization_id, v.reference, v.reseller_id, v.entry_id, :now"
    " FROM unnest(CAST(:orgs AS text[]), CAST(:refs AS text[]), CAST(:resellers AS text[]),"
    " CAST(:entries AS text[])) WITH ORDINALITY"
    " AS v(organization_id, reference, reseller_id, entry_id, n)"
    " ORDER BY v.n"
    " ON CONFLICT DO NOTHING RETURNING organization_id, reference"
)


def _columns(rows: list[dict], now) -> dict:
    return {
        "orgs": pg_array(row["organization_id"] for row in rows),
        "refs": pg_array(row["reference"] for row in rows),
        "resellers": pg_array(row["reseller_id"] for row in rows),
        "entries": pg_array(row["entry_id"] for row in rows),
        "now": now,
    }


def claim_many(keys: Iterable[tuple[Organization, str]]) -> dict[tuple[str, str], Claim]:
    """Claim many references at once (a batch): one INSERT of every new one, one SELECT of
    the first entries of those charged before; keyed by ``(organization id, reference)``.

    Rows go in key order, so two batches claiming the same references wait for each other
    instead of deadlocking.
    """
    wanted: dict[tuple[str, str], Organization] = {}
    for org, reference in keys:
        wanted.setdefault((org.id, reference), org)
    if not wanted:
        return {}
    now = utcnow()
    rows = [
        {
            "organization_id": org_id,
            "reference": reference,
            "reseller_id": wanted[(org_id, reference)].reseller_id,
            "entry_id": entry_id,
            "created_at": now,
        }
        for (org_id, reference), entry_id in zip(
            sorted(wanted), new_ids("ent", len(wanted)), strict=True
        )
    ]
    if db.session.get_bind().dialect.name == "postgresql":
        claimed = db.session.execute(_CLAIM_UNNEST, _columns(rows, now)).all()
    else:
        claimed = db.session.execute(
            sqlite_insert(_TABLE)
            .values(rows)
            .on_conflict_do_nothing(index_elements=list(_KEY))
            .returning(*_KEY)
        ).all()
    new = {(org_id, reference) for org_id, reference in claimed}
    claims = {
        (row["organization_id"], row["reference"]): Claim(row["entry_id"])
        for row in rows
        if (row["organization_id"], row["reference"]) in new
    }
    charged_before = [key for key in wanted if key not in new]
    if charged_before:
        found = db.session.execute(
            select(*_KEY, _TABLE.c.entry_id).where(tuple_(*_KEY).in_(charged_before))
        ).all()
        for org_id, reference, entry_id in found:
            claims[(org_id, reference)] = Claim(entry_id, first=False)
    return claims


def release(keys: Iterable[tuple[str, str]]) -> None:
    """Give up claims made in this transaction for usage that was refused (one DELETE)."""
    keys = list(keys)
    if keys:
        db.session.execute(delete(_TABLE).where(tuple_(*_KEY).in_(keys)))


def repeat(claim_made: Claim) -> Recorded:
    """The answer to a reference charged before: its first entry, nothing charged."""
    return Recorded(db.session.get(LedgerEntry, claim_made.entry_id), duplicate=True)
