"""forecast on available credits: prepaid days left count total credits less reserved

Prepaid days left become (total_credits - reserved_credits) * 7 / the window's usage, never
below 0: credits reserved for scheduled campaign runs are not there to spend
(tenants.credits.forecast). The stored generated column forecast_days_left gets the new
expression: PostgreSQL before 17 cannot change a generated column's expression, so the
column (and its index) is dropped and added again, which rewrites the organizations table
as the forecast migration did (a few seconds at 100,000 organizations). SQLite has it
VIRTUAL (added by ALTER TABLE, see the forecast migration), dropped and added again VIRTUAL.

Back-fill: the forecast migration started usage_days empty, so an organization showed "—"
until a week of usage had been counted. The last BACKFILL_DAYS days of each organization
(days of its timezone, today included) are rebuilt from the ledger: credits from the usage
account's entries of the used types (usage, message, refund: a refund's credits are
negative), and for postpaid the money from the charges with their tax; those days' rows
are replaced (not added to), so the usage counted since the forecast migration is not
counted twice. The window's sums and its first day are then stored on each organization
(as tenants.credits.forecast.store_window does), and the database computes days left. Set
based on PostgreSQL (AT TIME ZONE); a loop in Python on SQLite. No alert is queued.
Deleted organizations are left alone, as the hourly refresh leaves them.

Revision ID: f5c21fcea44c
Revises: c4d8e2f6a1b3
Create Date: 2026-12-12 09:00:00

"""
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from alembic import op
import sqlalchemy as sa

from tenants.core.types import Money, UTCDateTime

# As tenants.models.organizations has them at this revision: the new expression, and the
# one it replaces (the forecast migration's, for downgrade).
FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN CASE WHEN total_credits > reserved_credits"
    " THEN (total_credits - reserved_credits) * 7 / forecast_usage_7d ELSE 0 END END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)
PREVIOUS_FORECAST_DAYS_LEFT_SQL = (
    "COALESCE(CASE WHEN pricing_model = 'prepaid' THEN"
    " CASE WHEN forecast_usage_7d > 0 THEN total_credits * 7 / forecast_usage_7d END"
    " ELSE CASE WHEN forecast_charge_7d > 0 THEN"
    " CASE WHEN credit_limit > debt THEN CAST((credit_limit - debt) * 70000 AS BIGINT)"
    " / CAST(forecast_charge_7d * 10000 AS BIGINT) ELSE 0 END END END, 1000000000000000)"
)


# revision identifiers, used by Alembic.
revision = "f5c21fcea44c"
down_revision = "c4d8e2f6a1b3"
branch_labels = None
depends_on = None


def _replace_days_left(expression: str) -> None:
    """forecast_days_left computed by ``expression``, with its index: stored on PostgreSQL,
    VIRTUAL on SQLite (whose ALTER TABLE adds no stored generated column)."""
    stored = op.get_bind().dialect.name != "sqlite"
    op.drop_index("ix_organizations_reseller_forecast", table_name="organizations")
    op.drop_column("organizations", "forecast_days_left")
    op.add_column(
        "organizations",
        sa.Column(
            "forecast_days_left",
            sa.BigInteger(),
            sa.Computed(expression, persisted=stored),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_organizations_reseller_forecast",
        "organizations",
        ["reseller_id", "forecast_days_left", "id"],
        unique=False,
    )


# -- the back-fill, frozen at this revision ------------------------------------------------------

WINDOW_DAYS = 7
BACKFILL_DAYS = 8  # the window and the day before it
USED_TYPES = ("usage", "message", "refund")  # tenants.models.ledger.USED_TYPES
# Ledger and charges are read from this long before ``now``: the earliest local day of the
# back-fill begins at most 14 hours before UTC's (UTC+14), the margin is a day more.
_READ_BACK = timedelta(days=BACKFILL_DAYS + 1)

_ZONES = """
    SELECT o.id, o.reseller_id, COALESCE(z.name, 'UTC') AS tz,
           CAST((CAST(:now AS TIMESTAMPTZ) AT TIME ZONE COALESCE(z.name, 'UTC')) AS DATE)
               - CAST(:back AS INTEGER) AS first_day
    FROM organizations o
    LEFT JOIN (SELECT DISTINCT name FROM pg_timezone_names) z ON z.name = o.timezone
    WHERE o.status <> 'deleted'
"""
_PG_DELETE = f"""
    WITH zones AS ({_ZONES})
    DELETE FROM usage_days d USING zones
    WHERE d.organization_id = zones.id AND d.day >= zones.first_day
"""
_PG_INSERT = f"""
    WITH zones AS ({_ZONES}),
    used AS (
        SELECT e.organization_id,
               CAST((e.occurred_at AT TIME ZONE zones.tz) AS DATE) AS day,
               e.credits, CAST(0 AS NUMERIC(12, 4)) AS charged
        FROM ledger_entries e JOIN zones ON zones.id = e.organization_id
        WHERE e.account_kind = 'usage' AND e.type IN ('usage', 'message', 'refund')
          AND e.occurred_at >= CAST(:since AS TIMESTAMPTZ)
        UNION ALL
        SELECT c.organization_id,
               CAST((c.occurred_at AT TIME ZONE zones.tz) AS DATE),
               0, c.amount + c.tax
        FROM charges c JOIN zones ON zones.id = c.organization_id
        WHERE c.occurred_at >= CAST(:since AS TIMESTAMPTZ)
    )
    INSERT INTO usage_days (organization_id, reseller_id, day, credits, charged)
    SELECT used.organization_id, zones.reseller_id, used.day, SUM(used.credits),
           SUM(used.charged)
    FROM used JOIN zones ON zones.id = used.organization_id
    WHERE used.day >= zones.first_day
    GROUP BY used.organization_id, zones.reseller_id, used.day
    HAVING SUM(used.credits) <> 0 OR SUM(used.charged) <> 0
"""
_PG_WINDOWS = f"""
    WITH zones AS ({_ZONES}),
    sums AS (
        SELECT d.organization_id, SUM(d.credits) AS credits, SUM(d.charged) AS charged
        FROM usage_days d JOIN zones ON zones.id = d.organization_id
        WHERE d.day >= zones.first_day + 1
        GROUP BY d.organization_id
    )
    UPDATE organizations o
    SET forecast_usage_7d = COALESCE(sums.credits, 0),
        forecast_charge_7d = COALESCE(sums.charged, 0),
        forecast_window_start = zones.first_day + 1
    FROM zones LEFT JOIN sums ON sums.organization_id = zones.id
    WHERE o.id = zones.id
      AND (sums.organization_id IS NOT NULL
           OR o.forecast_usage_7d <> 0 OR o.forecast_charge_7d <> 0)
"""


def backfill(connection, now: datetime) -> None:
    """Rebuild the last BACKFILL_DAYS days of usage_days of every organization from the
    ledger and the charges as at ``now``, then store each one's window sums."""
    if connection.dialect.name == "postgresql":
        params = {"now": now, "back": BACKFILL_DAYS - 1, "since": now - _READ_BACK}
        for statement in (_PG_DELETE, _PG_INSERT, _PG_WINDOWS):
            connection.execute(sa.text(statement), params)
    else:
        _backfill_in_python(connection, now)


_organizations = sa.table(
    "organizations",
    sa.column("id", sa.String),
    sa.column("reseller_id", sa.String),
    sa.column("timezone", sa.String),
    sa.column("status", sa.String),
    sa.column("forecast_usage_7d", sa.BigInteger),
    sa.column("forecast_charge_7d", Money()),
    sa.column("forecast_window_start", sa.Date),
)
_entries = sa.table(
    "ledger_entries",
    sa.column("organization_id", sa.String),
    sa.column("account_kind", sa.String),
    sa.column("type", sa.String),
    sa.column("credits", sa.BigInteger),
    sa.column("occurred_at", UTCDateTime()),
)
_charges = sa.table(
    "charges",
    sa.column("organization_id", sa.String),
    sa.column("amount", Money()),
    sa.column("tax", Money()),
    sa.column("occurred_at", UTCDateTime()),
)
_days = sa.table(
    "usage_days",
    sa.column("organization_id", sa.String),
    sa.column("reseller_id", sa.String),
    sa.column("day", sa.Date),
    sa.column("credits", sa.BigInteger),
    sa.column("charged", Money()),
)


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _chunks(ids: list[str], size: int = 500):
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _backfill_in_python(connection, now: datetime) -> None:
    """The back-fill on SQLite: the same rows and sums, a day bucket per organization's
    timezone computed here."""
    orgs = connection.execute(
        sa.select(
            _organizations.c.id,
            _organizations.c.reseller_id,
            _organizations.c.timezone,
            _organizations.c.forecast_usage_7d,
            _organizations.c.forecast_charge_7d,
        ).where(_organizations.c.status != "deleted")
    ).all()
    zones = {org.id: _zone(org.timezone) for org in orgs}
    first_day = {
        org.id: now.astimezone(zones[org.id]).date() - timedelta(days=BACKFILL_DAYS - 1)
        for org in orgs
    }
    since = now - _READ_BACK
    totals: dict[tuple[str, date], list] = defaultdict(lambda: [0, Decimal(0)])
    used = connection.execute(
        sa.select(_entries.c.organization_id, _entries.c.occurred_at, _entries.c.credits).where(
            _entries.c.account_kind == "usage",
            _entries.c.type.in_(USED_TYPES),
            _entries.c.occurred_at >= since,
        )
    )
    for org_id, occurred, credits in used:
        if org_id in zones:
            totals[(org_id, occurred.astimezone(zones[org_id]).date())][0] += credits
    charged = connection.execute(
        sa.select(
            _charges.c.organization_id,
            _charges.c.occurred_at,
            _charges.c.amount,
            _charges.c.tax,
        ).where(_charges.c.occurred_at >= since)
    )
    for org_id, occurred, amount, tax in charged:
        if org_id in zones:
            totals[(org_id, occurred.astimezone(zones[org_id]).date())][1] += amount + tax
    by_first_day: dict[date, list[str]] = defaultdict(list)
    for org_id, day in first_day.items():
        by_first_day[day].append(org_id)
    for day, ids in by_first_day.items():
        for chunk in _chunks(ids):
            connection.execute(
                sa.delete(_days).where(_days.c.organization_id.in_(chunk), _days.c.day >= day)
            )
    resellers = {org.id: org.reseller_id for org in orgs}
    rows = [
        {
            "organization_id": org_id,
            "reseller_id": resellers[org_id],
            "day": day,
            "credits": credits,
            "charged": money,
        }
        for (org_id, day), (credits, money) in sorted(totals.items())
        if day >= first_day[org_id] and (credits or money)
    ]
    if rows:
        connection.execute(sa.insert(_days), rows)
    _store_windows_in_python(connection, orgs, first_day)


def _store_windows_in_python(connection, orgs, first_day: dict[str, date]) -> None:
    start = {org_id: day + timedelta(days=1) for org_id, day in first_day.items()}
    sums: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    if start:
        rows = connection.execute(
            sa.select(_days.c.organization_id, _days.c.day, _days.c.credits, _days.c.charged).where(
                _days.c.day >= min(start.values())
            )
        )
        for org_id, day, credits, charged in rows:
            if org_id in start and day >= start[org_id]:
                sums[org_id][0] += credits
                sums[org_id][1] += charged
    changes = [
        {
            "org": org.id,
            "usage": sums[org.id][0],
            "charge": sums[org.id][1],
            "start": start[org.id],
        }
        for org in orgs
        if org.id in sums or org.forecast_usage_7d or org.forecast_charge_7d
    ]
    if changes:
        connection.execute(
            sa.update(_organizations)
            .where(_organizations.c.id == sa.bindparam("org"))
            .values(
                forecast_usage_7d=sa.bindparam("usage"),
                forecast_charge_7d=sa.bindparam("charge", type_=Money()),
                forecast_window_start=sa.bindparam("start"),
            ),
            changes,
        )


def upgrade():
    _replace_days_left(FORECAST_DAYS_LEFT_SQL)
    backfill(op.get_bind(), datetime.now(UTC))


def downgrade():
    _replace_days_left(PREVIOUS_FORECAST_DAYS_LEFT_SQL)
