"""Dashboards (issue 7, item 7): customers by status and pricing model, credits sold and used
per day over 30 days, the organizations closest to running out -- a reseller's own numbers,
never another reseller's; the platform's across every reseller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM, Actor
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.core.types import new_id, utcnow
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import EntryType, LedgerEntry, PlatformRole, ResellerRole
from tenants.models.ledger import SYSTEM_ACCOUNT
from tenants.organizations.operations import suspend_organization
from tenants.resellers import dashboards


def staff(reseller) -> Actor:
    return Actor(user_id="usr_test", reseller_id=reseller.id, reseller_role=ResellerRole.AGENT)


PLATFORM = Actor(user_id="usr_platform", platform_role=PlatformRole.ADMIN)


def backdated_purchase(org, credits_in: int, days_ago: int) -> None:
    """A purchase posting recorded ``days_ago`` days ago (the services stamp the present)."""
    entry = db.session.scalar(
        sa.select(LedgerEntry).where(LedgerEntry.organization_id == org.id).limit(1)
    )
    when = utcnow() - timedelta(days=days_ago)
    db.session.add(
        LedgerEntry(
            id=new_id("ent"),
            transaction_id=new_id("txn"),
            reseller_id=org.reseller_id,
            organization_id=org.id,
            account_id=entry.account_id,
            account_kind=entry.account_kind,
            type=EntryType.PURCHASE,
            credits=credits_in,
            balance_after=credits_in,
            created_at=when,
            occurred_at=when,
        )
    )
    commit()


@pytest.fixture
def two_resellers(create_priced_reseller, create_organization):
    """Reseller A: two active prepaid (one low), one suspended prepaid, one postpaid, with
    purchases and usage today and a purchase 3 days ago. Reseller B: one prepaid org with
    bigger numbers."""
    # A price list but no tax table: the dashboards count credits, never money.
    a = create_priced_reseller(name="Alpha", taxes=None)
    b = create_priced_reseller(name="Beta", taxes=None)
    low = create_organization(a, name="Low Balance SL")
    low.low_balance_threshold = 100
    rich = create_organization(a, name="Rich SL")
    rich.low_balance_threshold = 100
    gone = create_organization(a, name="Suspended SL")
    post = create_organization(a, name="Postpaid SL", pricing_model="postpaid")
    post.credit_limit = Decimal("1000")
    commit()
    credits.add_credits(SYSTEM, low, SYSTEM_ACCOUNT, 150, entry_type=EntryType.PURCHASE)
    credits.add_credits(SYSTEM, rich, SYSTEM_ACCOUNT, 5000, entry_type=EntryType.AUTO_TOP_UP)
    credits.add_credits(SYSTEM, gone, SYSTEM_ACCOUNT, 10, entry_type=EntryType.ADJUSTMENT)
    commit()
    record_usage(SYSTEM, low, credits=70, reference="t1")
    record_usage(SYSTEM, post, credits=25, reference="t2")
    commit()
    backdated_purchase(rich, 300, days_ago=3)
    backdated_purchase(rich, 999, days_ago=45)  # outside the 30 days
    suspend_organization(SYSTEM, gone, "unpaid")
    commit()

    other = create_organization(b, name="Beta Big SL")
    credits.add_credits(SYSTEM, other, SYSTEM_ACCOUNT, 7777, entry_type=EntryType.PURCHASE)
    commit()
    record_usage(SYSTEM, other, credits=1234, reference="t3")
    commit()
    return a, b, {"low": low.id, "rich": rich.id, "gone": gone.id, "other": other.id}


def test_customer_counts_by_status_and_pricing_model(two_resellers):
    a, b, _ = two_resellers
    assert dashboards.customer_counts(staff(a)) == dashboards.CustomerCounts(
        active=3, suspended=1, prepaid=3, postpaid=1
    )
    assert dashboards.customer_counts(staff(b)) == dashboards.CustomerCounts(
        active=1, suspended=0, prepaid=1, postpaid=0
    )
    assert dashboards.customer_counts(PLATFORM).total == 5


def test_credits_sold_and_used_per_day_are_the_resellers_own(two_resellers):
    a, b, _ = two_resellers
    days = dashboards.daily_credits(staff(a))
    assert len(days) == 30
    today = datetime.now(UTC).date()
    assert days[-1].day == today and days[0].day == today - timedelta(days=29)
    by_day = {d.day: d for d in days}
    # Purchases and automatic top-ups count as sold; an adjustment does not.
    assert by_day[today].sold == 150 + 5000
    assert by_day[today].used == 70 + 25  # prepaid and postpaid usage
    assert by_day[today - timedelta(days=3)].sold == 300
    assert sum(d.sold for d in days) == 5450  # the purchase 45 days ago is outside
    assert sum(d.used for d in days) == 95

    theirs = dashboards.daily_credits(staff(b))
    assert sum(d.sold for d in theirs) == 7777
    assert sum(d.used for d in theirs) == 1234

    everyone = dashboards.daily_credits(PLATFORM)
    assert sum(d.sold for d in everyone) == 5450 + 7777
    assert sum(d.used for d in everyone) == 95 + 1234


def test_credits_used_count_messages_less_their_refunds_as_the_usage_account_does(
    two_resellers,
):
    """Used is counted on the holding side of each usage, message and refund (the movements'
    index holds only that side): it equals what the usage counter-account took, prepaid and
    postpaid alike."""
    from tenants.billing.postpaid import refund_postpaid_usage
    from tenants.credits.ledger import Posting, post_transaction
    from tenants.models import AccountKind, Organization
    from tenants.models.ledger import USED_TYPES, AccountRef

    a, _b, _ = two_resellers
    low = db.session.scalar(sa.select(Organization).where(Organization.name == "Low Balance SL"))
    post = db.session.scalar(sa.select(Organization).where(Organization.name == "Postpaid SL"))
    record_usage(SYSTEM, low, credits=12, reference="m1", entry_type=EntryType.MESSAGE)
    record_usage(SYSTEM, post, credits=9, reference="m2", entry_type=EntryType.MESSAGE)
    commit()
    post_transaction(
        SYSTEM,
        low,
        [
            Posting(SYSTEM_ACCOUNT, 5, EntryType.REFUND),
            Posting(AccountRef(AccountKind.USAGE), -5, EntryType.REFUND),
        ],
        reference="message:m1",
    )
    refund_postpaid_usage(SYSTEM, post, credits=4, reference="m2")
    commit()

    used = sum(d.used for d in dashboards.daily_credits(staff(a)))
    assert used == 70 + 25 + 12 + 9 - 5 - 4
    counted = db.session.scalar(
        sa.select(sa.func.sum(LedgerEntry.credits)).where(
            LedgerEntry.reseller_id == a.id,
            LedgerEntry.account_kind == AccountKind.USAGE,
            LedgerEntry.type.in_(USED_TYPES),
        )
    )
    assert used == counted


def test_closest_to_running_out_is_relative_to_the_threshold(two_resellers):
    a, b, ids = two_resellers
    listed = dashboards.running_out(staff(a))
    # Active prepaid only: Low (80 of 100) before Rich (5,300 of 100); no suspended, no postpaid.
    assert [o.id for o in listed] == [ids["low"], ids["rich"]]
    assert (listed[0].credits, listed[0].threshold) == (80, 100)
    assert [o.id for o in dashboards.running_out(staff(b))] == [ids["other"]]
    assert {o.id for o in dashboards.running_out(PLATFORM)} == {
        ids["low"],
        ids["rich"],
        ids["other"],
    }


def test_top_five_only(create_reseller, create_organization):
    reseller = create_reseller()
    for i in range(7):
        org = create_organization(reseller, name=f"Org {i}")
        org.low_balance_threshold = 10
        commit()
        if i:
            credits.add_credits(SYSTEM, org, SYSTEM_ACCOUNT, i * 10, entry_type=EntryType.PURCHASE)
            commit()
    listed = dashboards.running_out(staff(reseller))
    assert [o.credits for o in listed] == [0, 10, 20, 30, 40]


def test_the_customer_app_shows_the_dashboard_with_only_its_numbers(
    two_resellers, client, auth, create_reseller_staff
):
    a, _b, ids = two_resellers
    user = create_reseller_staff(a, role=ResellerRole.AGENT)
    assert auth.login(user.email).status_code == 302
    html = client.get("/customers/").get_data(as_text=True)
    assert 'data-section="dashboard"' in html
    assert 'data-field="sold-total">5,450<' in html
    assert 'data-field="used-total">95<' in html
    assert f'data-running-out="{ids["low"]}"' in html
    assert "Beta Big SL" not in html and "7,777" not in html
    assert '<title id="daily-credits-title">' in html
    # A filtered search or a later page is the list alone.
    assert 'data-section="dashboard"' not in client.get("/customers/?q=Low").get_data(as_text=True)


def test_the_platform_overview_shows_every_reseller(
    two_resellers, client, auth, create_platform_staff
):
    user = create_platform_staff(role=PlatformRole.ADMIN)
    assert auth.login(user.email).status_code == 302
    html = client.get("/platform/").get_data(as_text=True)
    assert 'data-field="sold-total">13,227<' in html
    assert 'data-field="used-total">1,329<' in html
    assert "Beta Big SL" in html and "Low Balance SL" in html


def test_queries_are_grouped(two_resellers, app):
    """Three statements for the whole dashboard, whatever the number of organizations."""
    a, _b, _ids = two_resellers
    actor = staff(a)
    statements = []

    def count(_conn, _cursor, statement, *_args):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        dashboards.dashboard(actor)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 3
