"""The Customer app list's forecast: its "runs out within N days" filter and its order by
days left (soonest first, organizations without usage last), a keyset page on the stored,
indexed ``forecast_days_left`` (tenants.credits.forecast) — never the ledger. Days left are
stored up to ten years (FORECAST_DAYS_CAP): organizations with more come after every shorter
forecast, in id order, and the list shows them as "More than 10 years"."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, tuple_

from tenants.core import paging
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.models import Organization
from tenants.models.forecast_days import FORECAST_DAYS_CAP, NO_FORECAST_DAYS

NAME_ORDER, FORECAST_ORDER = "name", "days_left"
SORTS = (NAME_ORDER, FORECAST_ORDER)
# Ten years: the database orders and filters days left up to here (FORECAST_DAYS_CAP).
RUNS_OUT_MAX = FORECAST_DAYS_CAP - 1

# NO_FORECAST_DAYS without usage: those come last, and no filter of days finds them.
DAYS_KEY: ColumnElement = Organization.forecast_days_left


def _days(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= NO_FORECAST_DAYS:
        raise ValueError(value)
    return value


FORECAST_CURSOR = paging.Cursor((_days, paging.TEXT, paging.choice("next", "prev")))


def clean_sort(value) -> str:
    if value is None or value == "":
        return NAME_ORDER
    if value not in SORTS:
        raise ValidationFailed(fields={"sort": str(_l("Not a valid choice."))})
    return value


def clean_runs_out_within(value, path: str = "runs_out_within") -> int | None:
    """Days, 1 to 3,650 (a typed string of digits or an integer); None: no filter."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 5:
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= RUNS_OUT_MAX:
        raise ValidationFailed(fields={path: str(_l("Enter a number of days from 1 to 3,650."))})
    return value


def runs_out_within(query, days: int | None):
    """Organizations whose forecast says they run out within ``days`` (none without usage)."""
    return query if days is None else query.where(DAYS_KEY <= days)  # noqa: SIM300  (days < NO_FORECAST_DAYS)


def encode_cursor(org: Organization, direction: str) -> str:
    return FORECAST_CURSOR.encode(org.forecast_days_left, org.id, direction)


def forecast_rows(query, cursor, wanted: int, matches=None) -> tuple[list[Organization], str]:
    """The first ``wanted`` rows of ``query`` in the forecast order after ``cursor`` (its
    decoded values), searched by ``matches``; and the direction read."""
    direction = "next"
    key = tuple_(DAYS_KEY, Organization.id)
    if cursor:
        days, org_id, direction = cursor
        query = query.where(
            key < tuple_(days, org_id) if direction == "prev" else key > tuple_(days, org_id)
        )
    if matches is not None:
        query = query.where(matches)
    order = (
        (DAYS_KEY.desc(), Organization.id.desc())
        if direction == "prev"
        else (DAYS_KEY, Organization.id)
    )
    return list(db.session.scalars(query.order_by(*order).limit(wanted))), direction
