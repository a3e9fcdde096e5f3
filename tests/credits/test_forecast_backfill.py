"""The forecast's back-fill on upgrade (migration f5c21fcea44c): the last 8 days of each
organization's daily totals rebuilt from the ledger (the usage account's used types, refunds
negative, in the organization's timezone) and, postpaid, from the charges with their tax;
then the window's sums stored. Run here as the migration runs it (its ``backfill``) on a
database whose ledger the usage paths wrote, the forecast emptied as the forecast migration
left it (or half kept, as counted since): it ends where the usage paths' own counting did."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

import tenants.billing.postpaid
import tenants.credits.forecast_days
import tenants.credits.ledger
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.billing import postpaid
from tenants.billing import usage as billing_usage
from tenants.core.extensions import db
from tenants.credits import forecast_refresh, ledger
from tenants.jobs.outbox import commit
from tenants.models import Organization, UsageDay
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef, EntryType
from tests.conftest import new_reference
from tests.credits.conftest import fund

MIGRATION = next(
    (Path(__file__).resolve().parents[2] / "migrations" / "versions").glob("*_f5c21fcea44c_*.py")
)
# Thursday 10 December 2026, 12:00 UTC: the back-fill's days are 3 to 10 December, the
# window 4 to 10 December (Madrid and UTC alike at this hour).
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def on(day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def migration():
    spec = importlib.util.spec_from_file_location("forecast_on_available_credits", MIGRATION)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def clock(monkeypatch):
    def set_to(moment: datetime) -> None:
        for module in (
            tenants.credits.forecast_days,
            tenants.credits.ledger,
            tenants.credits.operations,
            tenants.billing.postpaid,
        ):
            monkeypatch.setattr(module, "utcnow", lambda: moment)

    set_to(NOW)
    return set_to


@pytest.fixture
def customers(create_priced_reseller, create_organization, clock):
    """Acme (prepaid, Madrid) and Postal (postpaid, €100 limit, New York), each with usage
    on days before, at the edge of and inside the back-fill, a refund among them."""
    reseller = create_priced_reseller(name="Backfill Telecom", prepaid="0.05", postpaid="0.05")
    acme = create_organization(reseller, name="Acme", country="ES")
    postal = create_organization(
        reseller, name="Postal", pricing_model="postpaid", credit_limit=Decimal("100")
    )
    postal.timezone = "America/New_York"
    commit()
    fund(acme, 10_000)
    for credits, when in (
        (100, on(1)),  # before the back-fill
        (50, on(2, 23, 30)),  # 00:30 on 3 December in Madrid: the back-fill's first day
        (140, on(4)),
        (280, on(7)),
        (200, on(10)),
        (80, on(10, 9)),
    ):
        billing_usage.record_usage(
            SYSTEM, acme, credits=credits, reference=new_reference(), occurred_at=when
        )
        commit()
    ledger.post_transaction(  # a failed message's credits back, on 8 December
        SYSTEM,
        acme,
        [
            ledger.Posting(SYSTEM_ACCOUNT, 30, EntryType.REFUND),
            ledger.Posting(AccountRef(AccountKind.USAGE), -30, EntryType.REFUND),
        ],
        occurred_at=on(8),
    )
    commit()
    refunded = new_reference()
    for credits, when, reference in (
        (300, on(2), new_reference()),  # before the back-fill
        (200, on(4, 3), new_reference()),  # 22:00 on 3 December in New York: outside
        (400, on(6), refunded),
        (100, on(10), new_reference()),
    ):
        billing_usage.record_usage(
            SYSTEM, postal, credits=credits, reference=reference, occurred_at=when
        )
        commit()
    postpaid.refund_postpaid_usage(SYSTEM, postal, credits=40, reference=refunded)  # at NOW
    commit()
    return SimpleNamespace(acme=acme, postal=postal)


def days_of(org, since: int = 3) -> dict[int, tuple[int, Decimal]]:
    rows = db.session.execute(
        sa.select(UsageDay.day, UsageDay.credits, UsageDay.charged).where(
            UsageDay.organization_id == org.id
        )
    ).all()
    return {row.day.day: (row.credits, row.charged) for row in rows if row.day.day >= since}


def sums_of(org) -> tuple:
    db.session.expire_all()
    org = db.session.get(Organization, org.id)
    return (
        org.forecast_usage_7d,
        org.forecast_charge_7d,
        org.forecast_window_start,
        org.forecast_days,
    )


def forget(orgs, *, keep_from: int | None = None) -> None:
    """The forecast as the forecast migration left it (no day totals, sums 0), or with the
    days from ``keep_from`` on counted since."""
    ids = [org.id for org in orgs]
    query = sa.delete(UsageDay).where(UsageDay.organization_id.in_(ids))
    if keep_from is not None:
        query = query.where(UsageDay.day < datetime(2026, 12, keep_from).date())
    db.session.execute(query)
    db.session.execute(
        sa.update(Organization)
        .where(Organization.id.in_(ids))
        .values(forecast_usage_7d=0, forecast_charge_7d=0, forecast_window_start=None)
    )
    commit()


@pytest.mark.parametrize("keep_from", [None, 9])
def test_the_back_fill_rebuilds_what_the_usage_paths_counted(customers, keep_from):
    acme, postal = customers.acme, customers.postal
    counted = {org.id: (days_of(org), sums_of(org)) for org in (acme, postal)}
    # By hand: Acme's 3 to 10 December (Madrid), the refund negative; 670 in the window,
    # 9,180 held: 95 days. Postal's (New York) €0.05 a credit with 21 % tax.
    assert counted[acme.id][0] == {
        3: (50, Decimal("0.0000")),
        4: (140, Decimal("0.0000")),
        7: (280, Decimal("0.0000")),
        8: (-30, Decimal("0.0000")),
        10: (280, Decimal("0.0000")),
    }
    assert counted[acme.id][1][0] == 670 and counted[acme.id][1][3] == 95
    assert counted[postal.id][0] == {
        3: (200, Decimal("12.1000")),
        6: (400, Decimal("24.2000")),
        10: (60, Decimal("3.6300")),
    }
    forget([acme, postal], keep_from=keep_from)
    assert sums_of(acme)[3] is None

    migration().backfill(db.session.connection(), NOW)
    commit()

    assert {org.id: (days_of(org), sums_of(org)) for org in (acme, postal)} == counted
    # 1 December's usage is before the back-fill's 8 days: read from the 1st, nothing more.
    assert days_of(acme, since=1) == counted[acme.id][0]


def test_the_back_fill_is_idempotent_and_leaves_quiet_organizations_alone(
    customers, create_organization
):
    quiet = create_organization(customers.acme.reseller, name="Quiet")
    module = migration()
    module.backfill(db.session.connection(), NOW)
    commit()
    once = {org.id: (days_of(org), sums_of(org)) for org in (customers.acme, customers.postal)}
    module.backfill(db.session.connection(), NOW)
    commit()
    assert {org.id: (days_of(org), sums_of(org)) for org in (customers.acme, customers.postal)} == (
        once
    )
    assert days_of(quiet) == {} and sums_of(quiet) == (0, Decimal("0.0000"), None, None)


def test_a_day_later_the_window_slides_as_the_hourly_job_would_slide_it(customers, clock):
    later = datetime(2026, 12, 12, 12, 0, tzinfo=UTC)  # window 6 to 12 December
    clock(later)
    forecast_refresh.refresh_forecasts()
    commit()
    refreshed = sums_of(customers.acme)
    forget([customers.acme])
    migration().backfill(db.session.connection(), later)
    commit()
    assert sums_of(customers.acme) == refreshed
