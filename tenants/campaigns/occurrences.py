"""When a campaign's runs fall: wall-clock times in the campaign's time zone.

Occurrence ``k`` is the first run's local date and time moved ``k`` days, weeks or months,
then placed in the time zone: a daily 09:00 stays 09:00 in winter and in summer (its UTC
time moves with daylight saving). A monthly run on the 31st falls on the last day of a
shorter month and comes back to the 31st after it (always counted from the first run). A
local time that does not exist (the hour skipped in spring) runs at the same offset as just
before the change, i.e. one hour later on the clock; a time that exists twice (autumn) runs
at its first.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tenants.models import Repeat


def local_start(starts_at: datetime, timezone: str) -> datetime:
    """The first run's wall-clock time (naive) in ``timezone``."""
    return starts_at.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


def _add_months(moment: datetime, months: int) -> datetime:
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def local_occurrence(start: datetime, repeat: Repeat, occurrence: int) -> datetime:
    """The wall-clock time (naive) of occurrence ``occurrence`` (0: the first run)."""
    if occurrence == 0 or repeat == Repeat.NONE:
        return start
    if repeat == Repeat.DAILY:
        return start + timedelta(days=occurrence)
    if repeat == Repeat.WEEKLY:
        return start + timedelta(weeks=occurrence)
    return _add_months(start, occurrence)


def to_utc(local: datetime, timezone: str) -> datetime:
    """A wall-clock time in ``timezone`` as a UTC instant (fold 0: see the module's docstring)."""
    return local.replace(tzinfo=ZoneInfo(timezone), fold=0).astimezone(UTC)


def occurrence_at(
    starts_at: datetime, timezone: str, repeat: Repeat, until: date | None, occurrence: int
) -> datetime | None:
    """When occurrence ``occurrence`` runs (UTC), or None when there is no such run: a one-off
    campaign has only occurrence 0; a repeating one stops after ``until`` (a local date,
    inclusive)."""
    if occurrence < 0 or (repeat == Repeat.NONE and occurrence > 0):
        return None
    local = local_occurrence(local_start(starts_at, timezone), repeat, occurrence)
    if occurrence > 0 and (until is None or local.date() > until):
        return None
    return to_utc(local, timezone)
