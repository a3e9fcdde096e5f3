"""The forecast (SPEC §4) on fixed days: daily usage is the last 7 days' usage (today
included, in the organization's timezone) / 7, days left the credits (prepaid) or the credit
limit not yet owed (postpaid) at that rate, rounded down; kept from daily totals by every
usage path (single, batch, postpaid) and re-read as days pass, without usage in "—"/None."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

import tenants.credits.forecast_days
import tenants.credits.ledger
import tenants.credits.operations
from tenants.access.actors import SYSTEM
from tenants.billing import usage as billing_usage
from tenants.core.extensions import db
from tenants.credits import forecast, forecast_refresh, reservations
from tenants.jobs.outbox import commit
from tenants.models import Organization, UsageDay
from tenants.models.forecast_days import FORECAST_DAYS_CAP, NO_FORECAST_DAYS
from tenants.models.ledger import SYSTEM_ACCOUNT
from tests.conftest import new_reference, using_postgres
from tests.credits.conftest import fund

# The tests' calendar: it is Thursday 10 December 2026, 12:00 UTC (13:00 in Madrid).
NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


def on(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 12, day, hour, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """The clock of the forecast and of the usage rules, frozen; ``clock.set(moment)``."""

    class Clock:
        def set(self, moment: datetime) -> None:
            for module in (
                tenants.credits.forecast_days,
                tenants.credits.ledger,
                tenants.credits.operations,
            ):
                monkeypatch.setattr(module, "utcnow", lambda: moment)

    clock = Clock()
    clock.set(NOW)
    return clock


@pytest.fixture
def shop(create_priced_reseller, create_organization):
    """A prepaid organization in Spain (Europe/Madrid), usage charged to its system pool."""
    reseller = create_priced_reseller(name="Forecast Telecom")
    return SimpleNamespace(org=create_organization(reseller, name="Acme", country="ES"))


def use(org, credits: int, when: datetime) -> None:
    billing_usage.record_usage(
        SYSTEM, org, credits=credits, reference=new_reference(), occurred_at=when
    )
    commit()


def stored(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


def test_daily_usage_is_the_last_seven_days_over_seven_and_days_left_rounds_down(shop, clock):
    fund(shop.org, 10_000)
    use(shop.org, 100, on(3))  # 3 December: before the window (4 to 10 December)
    use(shop.org, 140, on(4))
    use(shop.org, 280, on(7))
    use(shop.org, 200, on(10))
    use(shop.org, 80, on(10, 9))
    org = stored(shop.org)
    # 700 credits in the window: 100.0 a day; 9,200 left: 92 days.
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("100.0"), 92)
    assert org.total_credits == 9_200 and org.forecast_days == 92
    days = dict(
        db.session.execute(
            sa.select(UsageDay.day, UsageDay.credits).where(UsageDay.organization_id == org.id)
        ).all()
    )
    assert {d.day: c for d, c in days.items()} == {3: 100, 4: 140, 7: 280, 10: 280}


def test_a_day_is_the_organizations_day_not_utcs(shop, clock):
    fund(shop.org, 1_000)
    # 23:30 UTC on 3 December is 00:30 on 4 December in Madrid: inside the window.
    use(shop.org, 70, datetime(2026, 12, 3, 23, 30, tzinfo=UTC))
    org = stored(shop.org)
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("10.0"), 93)


def test_days_pass_without_usage_and_the_hourly_job_slides_the_window(shop, clock):
    fund(shop.org, 10_000)
    use(shop.org, 140, on(4))
    use(shop.org, 280, on(7))
    use(shop.org, 280, on(10))
    assert stored(shop.org).forecast_days == 93  # 9,300 left at 100.0 a day
    clock.set(on(12))  # the window is now 6 to 12 December: 560 credits, 80.0 a day
    assert forecast_refresh.refresh_forecasts() == 1
    org = stored(shop.org)
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("80.0"), 116)
    assert forecast_refresh.refresh_forecasts() == 1  # read again, nothing changed, nothing written
    clock.set(on(17))  # the window is 11 to 17 December: no usage in it
    forecast_refresh.refresh_forecasts()
    org = stored(shop.org)
    assert forecast.forecast_of(org) is None and org.forecast_days is None
    assert forecast_refresh.refresh_forecasts() == 0  # no usage stored: not read again


def test_a_usage_after_the_window_slid_re_reads_it_before_the_hourly_job(shop, clock):
    """The stored sums were read for the window 4-10 December; two days later, before any
    refresh, a usage must not add to them in place (PostgreSQL's one statement) but re-read
    the window 6-12 December."""
    fund(shop.org, 10_000)
    use(shop.org, 140, on(4))
    use(shop.org, 280, on(7))
    assert stored(shop.org).forecast_usage_7d == 420
    clock.set(on(12))
    use(shop.org, 70, on(12))  # 280 + 70 in the window; adding in place would say 490
    org = stored(shop.org)
    assert org.forecast_usage_7d == 350 and org.forecast_window_start.day == 6
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("50.0"), 190)
    use(shop.org, 35, on(12, 11))  # the same window: added in place
    org = stored(shop.org)
    assert (org.forecast_usage_7d, org.forecast_days) == (385, 172)


@pytest.mark.postgres_only
def test_concurrent_usage_on_one_organization_is_counted_exactly(app, shop, clock):
    """Twenty charges racing on one organization's row: the stored 7-day sum is the day's
    total (each charge added to what the one before it stored, never to a stale read)."""
    fund(shop.org, 1_000)
    use(shop.org, 1, on(10))  # the window's sums stored and their start with them
    app.config["REDIS_URL"] = None
    org_id = shop.org.id

    def charge(n: int) -> None:
        with app.app_context():
            org = db.session.get(Organization, org_id)
            try:
                billing_usage.record_usage(
                    SYSTEM, org, credits=n + 1, reference=new_reference(), occurred_at=on(10)
                )
                db.session.commit()
            finally:
                db.session.info.pop("queued_job_ids", None)
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(charge, range(20)))
    org = stored(shop.org)
    day = db.session.scalar(sa.select(UsageDay.credits).where(UsageDay.organization_id == org_id))
    assert day == org.forecast_usage_7d == 1 + 210
    assert org.total_credits == 1_000 - 211


def test_a_purchase_moves_days_left_at_once_without_a_recount(shop, clock):
    fund(shop.org, 1_000)
    use(shop.org, 700, on(10))  # 300 left at 100.0 a day: 3 days
    assert stored(shop.org).forecast_days == 3
    fund(shop.org, 700)
    assert stored(shop.org).forecast_days == 10


def test_no_usage_no_forecast(shop, clock):
    fund(shop.org, 500)
    org = stored(shop.org)
    assert forecast.forecast_of(org) is None and org.forecast_days is None


def test_batch_usage_counts_like_single_usage(shop, clock):
    fund(shop.org, 10_000)
    events = [
        billing_usage.UsageEvent(shop.org.id, 300, new_reference(), occurred_at=on(5)),
        billing_usage.UsageEvent(shop.org.id, 400, new_reference(), occurred_at=on(9)),
        billing_usage.UsageEvent(shop.org.id, 10**9, new_reference()),  # refused: not counted
    ]
    results = billing_usage.record_usage_batch(SYSTEM, events)
    commit()
    assert [r.status for r in results] == ["accepted", "accepted", "refused"]
    org = stored(shop.org)
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("100.0"), 93)


def test_a_batch_adds_to_the_stored_window_in_place_and_re_reads_a_slid_one(shop, clock):
    """A batch's sums gain its usage in place while the stored window is today's; once the
    window slid (days passed without the hourly job), the batch re-reads it, so the days
    that left the window leave the sums."""
    fund(shop.org, 10_000)

    def batch(*events):
        results = billing_usage.record_usage_batch(SYSTEM, list(events))
        commit()
        assert {r.status for r in results} == {"accepted"}

    batch(billing_usage.UsageEvent(shop.org.id, 700, new_reference(), occurred_at=on(4)))
    batch(billing_usage.UsageEvent(shop.org.id, 140, new_reference(), occurred_at=on(9)))
    org = stored(shop.org)
    assert (org.forecast_usage_7d, org.forecast_window_start) == (840, on(4).date())
    batch(billing_usage.UsageEvent(shop.org.id, 70, new_reference(), occurred_at=on(1)))
    assert stored(shop.org).forecast_usage_7d == 840  # before the window: not in its sums
    clock.set(on(11))  # the window is now 5-11: the 700 of the 4th left it
    batch(billing_usage.UsageEvent(shop.org.id, 7, new_reference(), occurred_at=on(11)))
    org = stored(shop.org)
    assert (org.forecast_usage_7d, org.forecast_window_start) == (147, on(5).date())
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("21.0"), (10_000 - 917) // 21)


def test_postpaid_days_until_the_credit_limit_count_the_tax(
    create_priced_reseller, create_organization, clock
):
    reseller = create_priced_reseller(postpaid="0.05")
    org = create_organization(reseller, pricing_model="postpaid", credit_limit=Decimal("100"))
    use(org, 200, on(10))  # €10.00 + 21 % tax = €12.10 owed
    org = stored(org)
    assert org.debt == Decimal("12.1000")
    # (100 - 12.10) / (12.10 / 7) = 50.85: 50 days; 200 credits / 7 = 28.6 a day.
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("28.6"), 50)
    events = [billing_usage.UsageEvent(org.id, 400, new_reference(), occurred_at=on(9))]
    billing_usage.record_usage_batch(SYSTEM, events)
    commit()
    org = stored(org)
    # 600 credits, €36.30 owed: (100 - 36.30) * 7 / 36.30 = 12.28.
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("85.7"), 12)


@pytest.mark.parametrize(
    ("model", "total", "reserved", "debt", "limit", "used", "charged", "days"),
    [
        ("prepaid", 0, 0, "0", "0", 7, "0", 0),
        ("prepaid", 10**12, 0, "0", "0", 1, "0", 7 * 10**12),
        ("prepaid", 3_650, 0, "0", "0", 7, "0", 3_650),  # ten years: stored exactly
        ("prepaid", 3_652, 0, "0", "0", 7, "0", 3_652),  # beyond: stored as the cap
        ("prepaid", 5, 0, "0", "0", 0, "0", None),
        ("prepaid", 1_000, 300, "0", "0", 70, "0", 70),  # 700 available at 10.0 a day
        ("prepaid", 1_000, 1_000, "0", "0", 70, "0", 0),  # nothing available
        ("prepaid", 1_000, 1_200, "0", "0", 70, "0", 0),  # never below 0
        ("prepaid", 1_000, 999, "0", "0", 0, "0", None),
        ("postpaid", 0, 0, "120", "100", 7, "1", 0),
        ("postpaid", 0, 0, "0", "99999999", 7, "0.0001", 6999999930000),
        ("postpaid", 0, 0, "0", "100", 7, "0", None),
    ],
)
def test_the_database_computes_days_left_as_the_service_does(
    shop, model, total, reserved, debt, limit, used, charged, days
):
    """FORECAST_DAYS_LEFT_SQL and forecast.days_left agree, at the edges too: the database
    stores the days up to FORECAST_DAYS_CAP, the organization answers them exactly."""
    db.session.execute(
        sa.update(Organization)
        .where(Organization.id == shop.org.id)
        .values(
            pricing_model=model,
            total_credits=total,
            reserved_credits=reserved,
            debt=Decimal(debt),
            credit_limit=Decimal(limit),
            forecast_usage_7d=used,
            forecast_charge_7d=Decimal(charged),
        )
    )
    commit()
    org = stored(shop.org)
    assert org.forecast_days == days
    assert org.forecast_days_left == (
        NO_FORECAST_DAYS if days is None else min(days, FORECAST_DAYS_CAP)
    )
    assert (
        forecast.days_left(
            org.pricing_model,
            total,
            Decimal(debt),
            Decimal(limit),
            used,
            Decimal(charged),
            reserved_credits=reserved,
        )
        == days
    )


def test_a_forecast_beyond_ten_years_is_stored_as_the_cap_and_a_usage_rewrites_no_index(
    shop, clock
):
    """Days left are stored up to ten years (FORECAST_DAYS_CAP, the list's order and filter):
    a usage of an organization with more leaves the stored value, so on PostgreSQL its
    row's UPDATE is HOT (no new entry in any of the table's indexes); the exact number is
    still what the forecast says."""
    fund(shop.org, 10**9)
    use(shop.org, 70, on(10))  # 10.0 a day
    org = stored(shop.org)
    assert org.forecast_days_left == FORECAST_DAYS_CAP
    assert forecast.forecast_of(org).days_left == (10**9 - 70) * 7 // 70
    counts = sa.text(  # this backend's counts not yet sent to the statistics (PostgreSQL)
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables"
        " WHERE relname = 'organizations'"
    )
    before = db.session.execute(counts).one() if using_postgres() else None
    billing_usage.record_usage(SYSTEM, org, credits=7, reference=new_reference())
    if before is not None:
        after = db.session.execute(counts).one()
        updates, hot = after[0] - before[0], after[1] - before[1]
        assert updates >= 1 and hot == updates
    commit()
    org = stored(shop.org)
    assert org.forecast_days_left == FORECAST_DAYS_CAP
    assert org.forecast_days == (10**9 - 77) * 7 // 77


def test_days_left_count_the_credits_available_not_those_reserved(shop, clock):
    """Prepaid days left are (total credits - reserved credits) * 7 / the window's usage: a
    reservation for a campaign run lowers them like a usage, a release lifts them back."""
    fund(shop.org, 10_000)
    use(shop.org, 700, on(10))  # 9,300 held at 100.0 a day: 93 days
    assert stored(shop.org).forecast_days == 93
    reservations.reserve_credits(shop.org, SYSTEM_ACCOUNT, 2_300)
    commit()
    org = stored(shop.org)
    assert org.reserved_credits == 2_300
    assert forecast.forecast_of(org) == forecast.Forecast(Decimal("100.0"), 70)  # 7,000 free
    use(shop.org, 700, on(10))  # 8,600 held, 6,300 free at 200.0 a day: 31 days
    assert stored(shop.org).forecast_days == 31
    reservations.release_credits(shop.org, SYSTEM_ACCOUNT, 2_300)
    commit()
    assert stored(shop.org).forecast_days == 43  # 8,600 at 200.0 a day


def test_the_hourly_job_keeps_the_reservation_out_of_days_left(shop, clock):
    fund(shop.org, 10_000)
    use(shop.org, 700, on(10))
    reservations.reserve_credits(shop.org, SYSTEM_ACCOUNT, 9_000)
    commit()
    assert stored(shop.org).forecast_days == 3  # 300 free at 100.0 a day
    clock.set(on(12))  # the same window's usage (10 December is in it): nothing moves
    forecast_refresh.refresh_forecasts()
    commit()
    assert stored(shop.org).forecast_days == 3
