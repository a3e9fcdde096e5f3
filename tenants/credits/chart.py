"""The credits page's 30-day chart: the system pool's closing balance and the usage per day;
and the day buckets it (and the dashboards) sum postings by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.movements import LOG_DAYS
from tenants.models import AccountKind, CreditAccount, EntryType, LedgerEntry, Organization


def day_starts(days: int, zone: tzinfo) -> list[datetime]:
    """The start of each of the last ``days`` days in ``zone``, today included, oldest first
    (``days`` kept within 1 to 366)."""
    days = max(1, min(int(days), 366))
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    return [datetime.combine(first + timedelta(days=i), time(), tzinfo=zone) for i in range(days)]


def sums_by_day(
    moment: ColumnElement, starts: list[datetime], sums: dict[str, ColumnElement], *where
) -> dict[str, list[int]]:
    """For each named expression of ``sums``, its total per day of ``starts`` over the rows
    matching ``where`` (which keeps ``moment`` at or after ``starts[0]``): one grouped query.
    """
    bucket = case(
        *[(moment < start, i - 1) for i, start in enumerate(starts[1:], 1)],
        else_=len(starts) - 1,
    )
    # Bucket in a subquery, group outside: PostgreSQL would not match two copies of the
    # CASE with their own bound parameters between SELECT and GROUP BY.
    rows = (
        select(bucket.label("bucket"), *(expr.label(name) for name, expr in sums.items()))
        .where(*where)
        .subquery()
    )
    grouped = db.session.execute(
        select(rows.c.bucket, *(func.sum(rows.c[name]) for name in sums)).group_by(rows.c.bucket)
    ).all()
    totals = {name: [0] * len(starts) for name in sums}
    for index, *values in grouped:
        for name, value in zip(sums, values, strict=True):
            totals[name][int(index)] = int(value or 0)
    return totals


@dataclass(frozen=True)
class DayPoint:
    day: date
    balance: int  # the system pool at the end of the day
    usage: int  # credits used that day, every account


def daily_series(org: Organization, days: int = LOG_DAYS) -> list[DayPoint]:
    """Per local day (organization's timezone): the system pool's closing balance and usage.

    One grouped query over the window: each posting falls into the day it happened
    (``occurred_at``: a late-reported SMS counts on the day it was sent); the closing
    balance of a day is today's balance minus what the pool moved after that day.
    """
    starts = day_starts(days, ZoneInfo(org.timezone))
    is_system = LedgerEntry.account_kind == AccountKind.SYSTEM
    is_usage = LedgerEntry.type == EntryType.USAGE
    totals = sums_by_day(
        LedgerEntry.occurred_at,
        starts,
        {
            "pool": case((is_system, LedgerEntry.credits), else_=0),
            "used": case((is_usage, -LedgerEntry.credits), else_=0),
        },
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        LedgerEntry.balance_after.is_not(None),
        LedgerEntry.occurred_at >= starts[0],
    )
    moved, used = totals["pool"], totals["used"]
    current = db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == AccountKind.SYSTEM,
        )
    )
    closing = int(current or 0)
    points = []
    for i in reversed(range(len(starts))):
        points.append(DayPoint(starts[i].date(), closing, used[i]))
        closing -= moved[i]
    return list(reversed(points))
