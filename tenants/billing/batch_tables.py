"""The monthly run's temporary tables and the set-based statements that fill and read them.

The tables are created and dropped inside a batch's transaction (tenants.billing.monthly_batch).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    cast,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.schema import CreateTable, DropTable

from tenants.core.bulk import insert_rows, one_of
from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, currency_places, round_money
from tenants.models import Charge, Organization, PostpaidAccount

WORK_MEM = "64MB"  # PostgreSQL's work_mem for a batch's transaction
_BATCH_SETTINGS = text(
    "SELECT set_config('work_mem', :work_mem, true),"
    " (SELECT set_config('default_toast_compression', 'lz4', true) FROM pg_settings"
    "  WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))"
)


def _tune_batch_transaction() -> None:
    """PostgreSQL, this transaction only: room to hash and sort the batch in memory, and the
    invoices' lines documents (a few KB of JSON each) compressed with lz4 where the server
    has it, about a fifth cheaper than the default pglz to write and to read
    (bench/README.md, B4)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_BATCH_SETTINGS, {"work_mem": WORK_MEM})


_TEMP = MetaData()
_batch_table = Table(
    "billing_run_orgs",
    _TEMP,
    Column("organization_id", String(32), primary_key=True),
    Column("timezone", String(64)),
    Column("start_at", UTCDateTime()),
    Column("end_at", UTCDateTime()),
    Column("first_open", String(7)),
    Column("places", Integer),  # the digits of the currency's minor unit (EUR 2, JPY 0)
    prefixes=["TEMPORARY"],
)
_days_table = Table(
    "billing_run_days",
    _TEMP,
    Column("organization_id", String(32)),
    Column("day", Date),
    Column("period", String(7)),  # the month whose invoice the day goes on
    Column("unit_price", Money()),
    Column("tax_percent", Money()),
    Column("credits", BigInteger),
    Column("amount", Money()),  # exact: credits x unit price (what leaves unbilled)
    # The invoice line's amount: ``amount`` rounded half-up to the currency's minor unit.
    Column("line_amount", Money()),
    Column("tax", Money()),  # the exact tax of the charges (what leaves unbilled_tax)
    prefixes=["TEMPORARY"],
)
_settle_table = Table(
    "billing_run_settle",
    _TEMP,
    Column("organization_id", String(32), primary_key=True),
    Column("charged", Money()),
    Column("charged_tax", Money()),
    Column("credits", BigInteger),
    Column("unpaid", Money()),
    Column("applied", Money()),
    Column("closed_until", UTCDateTime()),
    prefixes=["TEMPORARY"],
)


@dataclass
class _Due:
    """One locked organization of a batch and what its invoices need."""

    row: Any  # the organization's columns and its postpaid row's (see _lock_batch)
    start: datetime | None  # charges from here (the end of the last invoiced month)...
    end: datetime  # ...to the end of the period in its timezone
    first_open: str  # the oldest month still open ('' when none was ever closed)


def _create_temp(*tables: Table) -> None:
    for table in tables:
        db.session.execute(DropTable(table, if_exists=True))  # a leftover of this connection
        db.session.execute(CreateTable(table))


def _drop_temp(*tables: Table) -> None:
    for table in tables:
        db.session.execute(DropTable(table, if_exists=True))


def _group_days(due: list[_Due]) -> None:
    """Fill the days table: the charges of the window of each organization, summed per
    (organization, local day, unit price, tax rate), each day tagged with its invoice's
    month."""
    if db.session.get_bind().dialect.name == "postgresql":
        _group_days_in_postgresql(due)
    else:
        _group_days_in_python(due)


def _group_days_in_postgresql(due: list[_Due]) -> None:
    """One INSERT … SELECT … GROUP BY, the local day by ``AT TIME ZONE`` (timezone())."""
    days = _days_table
    orgs = _batch_table
    insert_rows(
        orgs,
        [
            {
                "organization_id": item.row.id,
                "timezone": item.row.timezone,
                "start_at": item.start,
                "end_at": item.end,
                "first_open": item.first_open,
                "places": currency_places(item.row.currency),
            }
            for item in due
        ],
    )
    db.session.execute(text(f"ANALYZE {orgs.name}"))
    day = cast(func.timezone(orgs.c.timezone, Charge.occurred_at), Date)
    month = func.greatest(func.to_char(day, literal_column("'YYYY-MM'")), orgs.c.first_open)
    db.session.execute(
        insert(days).from_select(
            [
                "organization_id",
                "day",
                "period",
                "unit_price",
                "tax_percent",
                "credits",
                "amount",
                "line_amount",
                "tax",
            ],
            select(
                Charge.organization_id,
                day,
                month,
                Charge.unit_price,
                Charge.tax_percent,
                func.sum(Charge.credits),
                func.sum(Charge.amount),
                # numeric round(): half away from zero, the half-up of round_money
                func.round(func.sum(Charge.amount), orgs.c.places),
                func.sum(Charge.tax),
            )
            .join(
                orgs,
                and_(
                    orgs.c.organization_id == Charge.organization_id,
                    Charge.occurred_at < orgs.c.end_at,
                    or_(orgs.c.start_at.is_(None), Charge.occurred_at >= orgs.c.start_at),
                ),
            )
            # Spelled out so the index (organization_id, occurred_at) is probed for the
            # batch's organizations only, not merged from its start.
            .where(one_of(Charge.organization_id, [item.row.id for item in due]))
            .group_by(
                Charge.organization_id,
                day,
                orgs.c.first_open,
                orgs.c.places,
                Charge.unit_price,
                Charge.tax_percent,
            ),
        )
    )


def _group_days_in_python(due: list[_Due]) -> None:
    """The same grouping in Python, for the other databases (SQLite: tests, embedded)."""
    days = _days_table
    by_id = {item.row.id: item for item in due}
    zones: dict[str, ZoneInfo] = {}
    grouped: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    rows = db.session.execute(
        select(
            Charge.organization_id,
            Charge.occurred_at,
            Charge.unit_price,
            Charge.tax_percent,
            Charge.credits,
            Charge.amount,
            Charge.tax,
        ).where(
            Charge.organization_id.in_(list(by_id)),
            Charge.occurred_at < max(item.end for item in due),
        )
    )
    for org_id, occurred, unit, percent, count, amount, tax in rows:
        item = by_id[org_id]
        if occurred >= item.end or (item.start is not None and occurred < item.start):
            continue
        zone = zones.get(item.row.timezone) or zones.setdefault(
            item.row.timezone, ZoneInfo(item.row.timezone)
        )
        bucket = grouped[(org_id, occurred.astimezone(zone).date(), unit, percent)]
        bucket[0] += count
        bucket[1] += amount
        bucket[2] += tax
    if grouped:
        insert_rows(
            days,
            [
                {
                    "organization_id": org_id,
                    "day": day,
                    "period": max(_month(day), by_id[org_id].first_open),
                    "unit_price": unit,
                    "tax_percent": percent,
                    "credits": count,
                    "amount": amount,
                    "line_amount": round_money(amount, by_id[org_id].row.currency),
                    "tax": tax,
                }
                for (org_id, day, unit, percent), (count, amount, tax) in grouped.items()
            ],
        )


def _month(day: date) -> str:
    return day.strftime("%Y-%m")


def _close_accounts(settle_rows: list[dict], period: str, now: datetime) -> None:
    """Move the batch's money and close its months: one UPDATE … FROM of the postpaid
    rows, one UPDATE of the invoiced organizations' debts."""
    settle, account = _settle_table, PostpaidAccount.__table__
    insert_rows(settle, settle_rows)
    db.session.execute(
        update(account)
        .where(account.c.organization_id == settle.c.organization_id)
        .values(
            unbilled=account.c.unbilled - settle.c.charged,
            unbilled_tax=account.c.unbilled_tax - settle.c.charged_tax,
            unbilled_credits=account.c.unbilled_credits - settle.c.credits,
            invoiced_unpaid=account.c.invoiced_unpaid + settle.c.unpaid,
            paid_ahead=account.c.paid_ahead - settle.c.applied,
            closed_period=period,
            closed_until=settle.c.closed_until,
            updated_at=now,
        )
    )
    if any(item["credits"] for item in settle_rows):
        # Debt is unbilled + tax + invoiced unpaid - paid ahead: invoicing moves money from
        # the first two to the third, so it changes only by the invoices' rounding or what
        # paid ahead settled; an organization whose debt stays the same is not rewritten.
        org = Organization.__table__
        debt = (
            account.c.unbilled
            + account.c.unbilled_tax
            + account.c.invoiced_unpaid
            - account.c.paid_ahead
        )
        db.session.execute(
            update(org)
            .where(
                org.c.id == account.c.organization_id,
                account.c.organization_id == settle.c.organization_id,
                settle.c.credits > 0,
                org.c.debt != debt,
            )
            .values(debt=debt)
        )
