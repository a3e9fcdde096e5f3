"""Days left of an organization's forecast, as Python and the database compute them (one
home for both forms of the rule: tenants.models.organizations stores the SQL one,
tenants.credits.forecast keeps the inputs)."""

from __future__ import annotations

from decimal import Decimal

# Days left (tenants.credits.forecast): prepaid, credits available (held less reserved for
# campaign runs, never below 0) over the credits used a day (7-day usage / 7); postpaid, the
# credit limit not yet owed over the money charged a day. Whole days, rounded down; None
# without usage in the window (FORECAST_WINDOW_DAYS: the window's days).
FORECAST_WINDOW_DAYS = 7


def days_left(
    pricing_model: str,
    total_credits: int,
    debt: Decimal,
    credit_limit: Decimal,
    usage_7d: int,
    charge_7d: Decimal,
    *,
    reserved_credits: int,
) -> int | None:
    """Days left, exactly (FORECAST_DAYS_LEFT_SQL stores them up to FORECAST_DAYS_CAP)."""
    if pricing_model == "prepaid":
        available = max(total_credits - reserved_credits, 0)
        return available * FORECAST_WINDOW_DAYS // usage_7d if usage_7d > 0 else None
    if charge_7d <= 0:
        return None
    if credit_limit <= debt:
        return 0
    return int((credit_limit - debt) * FORECAST_WINDOW_DAYS // charge_7d)


# What the database stores of days left (forecast_days_left, the Customer app's forecast
# order and its "runs out within N days" filter, both indexed): days_left counted up to
# FORECAST_DAYS_CAP, ten years and a day; every longer forecast is stored as the cap itself.
# Beyond ten years the number only matters to the organization's own overview and the API,
# which compute it exactly (Organization.forecast_days); the filter reaches 3,650 days at
# most. Stored exactly, the value changed with nearly every usage of an organization with
# years of credit, and with it two index entries: every usage's UPDATE of the organization's
# row was a non-HOT update, a new entry in each of the table's ten indexes, two of them
# trigram GIN (bench/README.md, B6). Capped, it changes only when a whole day of the last
# ten years passes. NO_FORECAST_DAYS without usage (so the list's forecast order, no usage
# last, is a plain index). Integer division on both databases: money is NUMERIC(12, 4) on
# PostgreSQL and scaled integers on SQLite, so both sides are scaled alike to integers first.
FORECAST_DAYS_CAP = 3651
NO_FORECAST_DAYS = 10**15


def _capped(days: str) -> str:
    return f"CASE WHEN {days} < {FORECAST_DAYS_CAP} THEN {days} ELSE {FORECAST_DAYS_CAP} END"


_WEEK = FORECAST_WINDOW_DAYS
FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN CASE WHEN total_credits > reserved_credits"
    f" THEN {_capped(f'(total_credits - reserved_credits) * {_WEEK} / forecast_usage_7d')}"
    " ELSE 0 END END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN CASE WHEN credit_limit > debt THEN "
    + _capped(
        f"CAST((credit_limit - debt) * {_WEEK * 10000} AS BIGINT)"
        " / CAST(forecast_charge_7d * 10000 AS BIGINT)"
    )
    + f" ELSE 0 END END END, {NO_FORECAST_DAYS})"
)
