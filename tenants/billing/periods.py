"""Billing months: ``YYYY-MM`` periods, their bounds in a timezone, the last one ended."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton
from flask_babel import lazy_gettext as _l

from tenants.core.errors import PeriodNotEnded, ValidationFailed
from tenants.core.types import utcnow


def parse_period(value, field: str = "period") -> str:
    """A month ``YYYY-MM``, refused with a clear message otherwise."""
    try:
        year, month = (int(part) for part in str(value).split("-"))
        if not (2000 <= year <= 9999 and 1 <= month <= 12) or len(str(value)) != 7:
            raise ValueError
    except ValueError:
        raise ValidationFailed(
            fields={field: str(_l("Give a month as YYYY-MM, e.g. 2026-10."))}
        ) from None
    return f"{year:04d}-{month:02d}"


def _first_day(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    return date(year, month, 1)


@lru_cache(maxsize=256)
def next_period(period: str) -> str:
    first = _first_day(period)
    return (first + timedelta(days=32)).replace(day=1).strftime("%Y-%m")


@lru_cache(maxsize=256)
def previous_period(period: str) -> str:
    return (_first_day(period) - timedelta(days=1)).strftime("%Y-%m")


def period_bounds(period: str, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants a month starts and ends at in ``timezone`` (end excluded)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(_first_day(period), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(_first_day(next_period(period)), datetime.min.time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def period_of(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def last_ended_period(now: datetime | None = None) -> str:
    """The month that just ended, in UTC terms (each organization's own zone decides more)."""
    return previous_period((now or utcnow()).astimezone(UTC).strftime("%Y-%m"))


def require_ended(period: str, now: datetime | None = None) -> str:
    period = parse_period(period)
    if period > last_ended_period(now):
        raise PeriodNotEnded()
    return period


def month_name(period: str | None, locale: Any) -> str:
    """A period ("2026-10") as the month it covers ("October 2026", "octubre de 2026") in
    ``locale``; none is "", and anything that is not a period reads as it is."""
    try:
        year, month = (int(part) for part in (period or "").split("-"))
        return format_skeleton("yMMMM", date(year, month, 1), locale=locale)
    except ValueError:
        return period or ""
