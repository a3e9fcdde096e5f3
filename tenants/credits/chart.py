"""The credits page's 30-day chart: the system pool's closing balance and the usage per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits.movements import LOG_DAYS
from tenants.models import AccountKind, CreditAccount, EntryType, LedgerEntry, Organization


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
    days = max(1, min(int(days), 366))
    zone = ZoneInfo(org.timezone)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    starts = [datetime.combine(first + timedelta(days=i), time(), tzinfo=zone) for i in range(days)]
    bucket = case(
        *[(LedgerEntry.occurred_at < start, i - 1) for i, start in enumerate(starts[1:], 1)],
        else_=days - 1,
    )
    is_system = LedgerEntry.account_kind == AccountKind.SYSTEM
    is_usage = LedgerEntry.type == EntryType.USAGE
    # Bucket in a subquery, group outside: PostgreSQL would not match two copies of the
    # CASE with their own bound parameters between SELECT and GROUP BY.
    postings = (
        select(
            bucket.label("bucket"),
            case((is_system, LedgerEntry.credits), else_=0).label("pool"),
            case((is_usage, -LedgerEntry.credits), else_=0).label("used"),
        )
        .where(
            LedgerEntry.organization_id == org.id,
            LedgerEntry.reseller_id == org.reseller_id,
            LedgerEntry.balance_after.is_not(None),
            LedgerEntry.occurred_at >= starts[0],
        )
        .subquery()
    )
    rows = db.session.execute(
        select(postings.c.bucket, func.sum(postings.c.pool), func.sum(postings.c.used)).group_by(
            postings.c.bucket
        )
    ).all()
    moved = [0] * days
    used = [0] * days
    for index, pool_delta, usage in rows:
        moved[int(index)] = int(pool_delta or 0)
        used[int(index)] = int(usage or 0)
    current = db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.organization_id == org.id,
            CreditAccount.kind == AccountKind.SYSTEM,
        )
    )
    closing = int(current or 0)
    points = []
    for i in reversed(range(days)):
        points.append(DayPoint(first + timedelta(days=i), closing, used[i]))
        closing -= moved[i]
    return list(reversed(points))
