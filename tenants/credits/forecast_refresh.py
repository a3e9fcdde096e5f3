"""The forecast's hourly refresh (tenants.credits.forecast): days pass without usage, and each
organization's window slides at midnight of its timezone; every organization whose stored
sums are not zero has its window re-read, the sums stored, and its alert asked on a
crossing."""

from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import select, update

from tenants.core.extensions import db
from tenants.credits.forecast import (
    FORECAST_STATE,
    alert_on_crossing,
    days_left_of,
    may_alert,
    window_sums,
)
from tenants.credits.forecast_days import window_start
from tenants.jobs.outbox import commit
from tenants.jobs.registry import job
from tenants.models import Organization, OrganizationStatus

REFRESH_CHUNK = 500

# What the refresh reads of each organization: the forecast's state and its timezone.
_STATE = (*FORECAST_STATE, Organization.timezone)


def _apply(rows) -> None:
    """Store the fresh window sums of ``rows`` (the organizations' _STATE, locked) and alert
    on each crossing: the forecast before is the one stored."""
    starts = {row.id: window_start(row.timezone) for row in rows}
    sums = window_sums(list(starts), starts)
    for row in rows:
        usage, charge = sums[row.id]
        stored = (row.forecast_usage_7d, row.forecast_charge_7d, row.forecast_window_start)
        if (usage, charge, starts[row.id]) == stored:
            continue
        db.session.execute(
            update(Organization)
            .where(Organization.id == row.id)
            .values(
                forecast_usage_7d=usage,
                forecast_charge_7d=charge,
                forecast_window_start=starts[row.id],
            )
            .execution_options(synchronize_session=False)
        )
        if not may_alert(row):
            continue
        before = days_left_of(row)
        fresh = SimpleNamespace(
            **{**row._asdict(), "forecast_usage_7d": usage, "forecast_charge_7d": charge}
        )
        alert_on_crossing(fresh, before, usage)


@job("refresh_forecasts")
def refresh_forecasts() -> int:
    """Re-read the window of every organization with usage stored (the window slides at each
    midnight of its timezone), a chunk at a time, each chunk locked and committed; how many
    organizations were read. Idempotent: an unchanged window writes nothing. A window that
    slides only loses days, so the job lifts forecasts (re-arming alerts) and never lowers
    one across its alert level; it alerts only if that ever happens."""
    seen, after = 0, ""
    while True:
        rows = db.session.execute(
            select(*_STATE)
            .where(
                Organization.id > after,
                Organization.status != OrganizationStatus.DELETED,
                (Organization.forecast_usage_7d != 0) | (Organization.forecast_charge_7d != 0),
            )
            .order_by(Organization.id)
            .limit(REFRESH_CHUNK)
            # A row a movement holds is skipped, not waited for: that movement's usage
            # refreshes it, else the next hour does (and no lock order to keep with it).
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return seen
        _apply(rows)
        commit()
        seen += len(rows)
        after = rows[-1].id
