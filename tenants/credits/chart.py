"""The credits page's 30-day chart: the system pool's closing balance and the usage per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tenants.core.day_buckets import day_starts, sums_by_day
from tenants.core.extensions import db
from tenants.credits.movements import LATE_USAGE_DAYS, LOG_DAYS
from tenants.models import AccountKind, CreditAccount, LedgerEntry, Organization
from tenants.models.ledger import USED_TYPES


@dataclass(frozen=True)
class DayPoint:
    day: date
    balance: int  # the system pool at the end of the day
    usage: int  # credits used that day, every account


def daily_series(org: Organization, days: int = LOG_DAYS) -> list[DayPoint]:
    """Per local day (organization's timezone): the system pool's closing balance and usage.

    Two grouped queries over the window. Usage falls on the day it happened (``occurred_at``:
    a late-reported SMS counts on the day it was sent). The closing balance is what the pool
    held at the end of the day as the ledger recorded it (``created_at``): today's balance
    minus what the pool moved after that day. Dated by ``occurred_at`` instead, a purchase
    today after SMS reported late would leave the days between below zero, and the line
    would run under the chart's axis.
    """
    starts = day_starts(days, ZoneInfo(org.timezone))
    own = (
        LedgerEntry.organization_id == org.id,
        LedgerEntry.reseller_id == org.reseller_id,
        LedgerEntry.balance_after.is_not(None),
    )
    moved = sums_by_day(
        LedgerEntry.created_at,
        starts,
        {"pool": LedgerEntry.credits},
        *own,
        LedgerEntry.account_kind == AccountKind.SYSTEM,
        LedgerEntry.created_at >= starts[0],
        # What was recorded in the window happened at most LATE_USAGE_DAYS before it: the
        # bound that reads a range of the movements' (organization, occurred_at) index.
        LedgerEntry.occurred_at >= starts[0] - timedelta(days=LATE_USAGE_DAYS + 1),
    )["pool"]
    used = sums_by_day(
        LedgerEntry.occurred_at,
        starts,
        {"used": -LedgerEntry.credits},
        *own,
        LedgerEntry.type.in_(USED_TYPES),
        LedgerEntry.occurred_at >= starts[0],
    )["used"]
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
