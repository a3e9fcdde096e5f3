"""When a campaign's runs fall: the same wall-clock time in its time zone across daylight
saving, a monthly run on the 31st on the last day of shorter months, nothing after `until`."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tenants.campaigns.occurrences import occurrence_at, to_utc
from tenants.models import Repeat

# Time arithmetic, not the database: run once.
pytestmark = pytest.mark.sqlite_run

MADRID = "Europe/Madrid"


def at(local: str, zone: str = MADRID) -> datetime:
    return to_utc(datetime.fromisoformat(local), zone)


def test_a_daily_run_keeps_its_local_time_across_daylight_saving():
    start = at("2026-03-27T09:00")  # CET: 08:00 UTC
    times = [occurrence_at(start, MADRID, Repeat.DAILY, date(2026, 3, 31), k) for k in range(5)]
    assert [t.astimezone(UTC).hour for t in times] == [8, 8, 7, 7, 7]  # summer time from the 29th
    assert occurrence_at(start, MADRID, Repeat.DAILY, date(2026, 3, 31), 5) is None


def test_a_weekly_run_crosses_the_autumn_change_at_the_same_local_time():
    start = at("2026-10-20T18:30")
    later = occurrence_at(start, MADRID, Repeat.WEEKLY, date(2026, 12, 31), 1)
    assert later == datetime(2026, 10, 27, 17, 30, tzinfo=UTC)  # CET again: 18:30 local


def test_a_monthly_run_on_the_31st_falls_on_the_last_day_of_shorter_months():
    start = at("2027-01-31T10:00")
    days = [
        occurrence_at(start, MADRID, Repeat.MONTHLY, date(2027, 12, 31), k).date() for k in range(4)
    ]
    assert days == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]


def test_a_one_off_campaign_has_one_run():
    start = at("2026-12-24T12:00")
    assert occurrence_at(start, MADRID, Repeat.NONE, None, 0) == start
    assert occurrence_at(start, MADRID, Repeat.NONE, date(2027, 1, 1), 1) is None


def test_a_skipped_spring_hour_runs_an_hour_later_on_the_clock():
    start = at("2026-03-28T02:30")
    skipped = occurrence_at(start, MADRID, Repeat.DAILY, date(2026, 3, 30), 1)  # 02:30 is no time
    assert skipped == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
