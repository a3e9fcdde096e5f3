"""The forecast's days (SPEC §4): the day of a moment in an organization's timezone, the
window's first day, and the usage paths' additions to ``usage_days``, one row per
organization and day (tenants.credits.forecast keeps the window's sums from them).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from tenants.core.bulk import upsert_adding_statement
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import Organization, UsageDay
from tenants.models.forecast_days import FORECAST_WINDOW_DAYS

_ZERO = Decimal("0")


@lru_cache(maxsize=4096)
def local_day(timezone: str, moment: datetime) -> date:
    """The day of ``timezone`` at ``moment`` (UTC for an unknown zone); remembered, as a
    batch asks it for the same few zones and moments a thousand times."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def window_start(timezone: str) -> date:
    """The window's first day: today in ``timezone`` and the 6 days before it."""
    return local_day(timezone, utcnow()) - timedelta(days=FORECAST_WINDOW_DAYS - 1)


class Used(NamedTuple):
    """Credits used at a moment (negative: given back) and, postpaid, the money charged
    with its tax. A named tuple: a batch makes one per event."""

    moment: datetime
    credits: int
    charged: Decimal = _ZERO


def by_day(org: Organization, used: Iterable[Used]) -> dict[date, tuple[int, Decimal]]:
    """``used`` summed by day of the organization's timezone, days with nothing left out."""
    days: dict[date, tuple[int, Decimal]] = {}
    zone = org.timezone
    for item in used:
        day = local_day(zone, item.moment)
        found = days.get(day)
        days[day] = (
            (item.credits, item.charged)
            if found is None
            else (found[0] + item.credits, found[1] + item.charged)
        )
    return {day: totals for day, totals in sorted(days.items()) if totals[0] or totals[1]}


def upsert_days(rows: list[dict]) -> None:
    """Add each row's credits and money to its (organization, day) row of usage_days, in
    one statement; rows in (organization, day) order, so concurrent writers lock them in the
    same order."""
    statement = days_upsert(rows)
    if statement is not None:
        db.session.execute(statement)


def days_upsert(rows: list[dict]):
    """The statement of upsert_days (None for no rows), to build before it is needed."""
    return upsert_adding_statement(
        UsageDay.__table__, ("organization_id", "day"), rows, ("credits", "charged")
    )


def day_rows(org: Organization, days: dict[date, tuple[int, Decimal]]) -> list[dict]:
    return [
        {
            "organization_id": org.id,
            "reseller_id": org.reseller_id,
            "day": day,
            "credits": credits,
            "charged": charged,
        }
        for day, (credits, charged) in days.items()
    ]


def add_to_days(org: Organization, used: Iterable[Used]) -> dict[date, tuple[int, Decimal]]:
    """Add ``used`` to the organization's rows of usage_days; what was added, by day."""
    days = by_day(org, used)
    upsert_days(day_rows(org, days))
    return days
