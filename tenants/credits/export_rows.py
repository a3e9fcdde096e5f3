"""Movements as rows for the CSV and the print report: names joined in, streamed in batches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import aliased

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core.extensions import db
from tenants.credits.movements import movements_query, reseller_movements_query
from tenants.models import (
    AccountKind,
    EntryType,
    LedgerEntry,
    Member,
    Organization,
    User,
)

CSV_BATCH = 1000

# The CSV's columns, in order: export.py writes them in Python, export_copy.py in SQL.
# ``date`` is when the movement happened (occurred_at); ``recorded_at`` the time it was
# recorded, filled only when the two are apart (movements.recorded_apart).
CSV_COLUMNS = (
    "date",
    "type",
    "account",
    "credits",
    "balance_after",
    "amount",
    "currency",
    "reference",
    "done_by",
    "recorded_at",
)
# A postpaid organization's log: everything is on its system account, whose balance stays 0.
POSTPAID_CSV_COLUMNS = tuple(c for c in CSV_COLUMNS if c not in ("account", "balance_after"))


@dataclass(frozen=True)
class MovementRow:
    occurred_at: datetime
    created_at: datetime
    type: EntryType
    account_kind: AccountKind
    member_id: str
    credits: int
    balance_after: int | None
    amount: object
    currency: str | None
    reference: str | None
    actor_name: str | None
    real_user_name: str | None
    api_key_id: str | None
    member_name: str | None
    organization_name: str | None
    organization_timezone: str | None


def _row_query(query: Select) -> Select:
    """The movements query as plain columns with the names joined in (no ORM objects)."""
    movements = query.subquery()
    entry = aliased(LedgerEntry, movements)
    doer = aliased(User)
    real = aliased(User)
    member_user = aliased(User)
    return (
        select(
            entry.occurred_at,
            entry.created_at,
            entry.type,
            entry.account_kind,
            entry.member_id,
            entry.credits,
            entry.balance_after,
            entry.amount,
            entry.currency,
            entry.reference,
            doer.name,
            real.name,
            entry.api_key_id,
            member_user.name,
            Organization.name,
            Organization.timezone,
        )
        .join(Organization, Organization.id == entry.organization_id)
        .outerjoin(doer, doer.id == entry.actor_user_id)
        .outerjoin(real, real.id == entry.real_user_id)
        .outerjoin(Member, and_(Member.id == entry.member_id, entry.member_id != ""))
        .outerjoin(member_user, member_user.id == Member.user_id)
        .order_by(entry.occurred_at.desc(), entry.id.desc())
    )


def iter_movement_rows(query: Select) -> MovementRows:
    """A movements query's rows for the CSV and the print report (see MovementRows)."""
    return MovementRows(query)


def _stream_rows(query: Select) -> Iterator[MovementRow]:
    """Stream a movements query in batches (server-side cursor on PostgreSQL): any size,
    constant memory."""
    result = db.session.execute(
        _row_query(query).execution_options(yield_per=CSV_BATCH, stream_results=True)
    )
    try:
        for row in result:
            yield MovementRow(*row)
    finally:
        result.close()


class MovementRows:
    """The CSV and print rows of a movements query.

    Iterating yields MovementRow objects (streamed, any size). The query is kept so the CSV
    download can have PostgreSQL write the file itself (``copy_csv``).
    """

    def __init__(
        self,
        query: Select,
        *,
        timezone: str | None = None,
        columns: tuple[str, ...] = CSV_COLUMNS,
    ):
        self.query = query
        self.timezone = timezone  # every row's organization timezone, when they share one
        self.columns = columns  # of the CSV (CSV_COLUMNS' names, in order)

    def __iter__(self) -> Iterator[MovementRow]:
        return _stream_rows(self.query)


def iter_organization_rows(
    actor: Actor, org: Organization, *, since: datetime | None = None, **filters
) -> MovementRows:
    query = movements_query(actor, org, since=since, **filters)
    return MovementRows(query, timezone=org.timezone or "UTC")


def iter_reseller_rows(actor: Actor, *, since: datetime | None = None, **filters) -> MovementRows:
    query = reseller_movements_query(actor, since=since, **filters)
    zones = db.session.scalars(
        scoping.organizations_query(actor, include_deleted=True)
        .with_only_columns(func.coalesce(func.nullif(Organization.timezone, ""), "UTC"))
        .order_by(None)
        .distinct()
        .limit(2)
    ).all()
    return MovementRows(query, timezone=zones[0] if len(zones) == 1 else None)
