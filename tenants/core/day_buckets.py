"""Day buckets: the start of each of the last days in a timezone, and sums per day in one
grouped query (the credits chart and the dashboards count postings by day with them)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo

from sqlalchemy import ColumnElement, case, func, select

from tenants.core.extensions import db
from tenants.core.types import utcnow


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
