"""Scheduling a campaign reserves its next run's credits (segments x the list's recipients
who have not opted out): available = held - reserved in the balance and in every debit
(usage, messages, transfers, withdrawals); cancelling frees them; a run that cannot be
covered is refused when scheduled (402, nothing scheduled)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM, Actor
from tenants.billing.usage import UsageEvent, record_usage, record_usage_batch
from tenants.campaigns import operations as campaigns
from tenants.contacts import operations as contacts
from tenants.core.errors import InsufficientCredits, ValidationFailed, ViewOnlySession
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit, rollback
from tenants.models import Campaign, CampaignStatus, Repeat, RunStatus, SupportMode
from tenants.models.ledger import SYSTEM_ACCOUNT
from tests.campaigns.conftest import assert_conserved, held, next_run, reserved, runs_of, schedule
from tests.conftest import new_reference


def test_scheduling_reserves_segments_times_recipients(shop):
    contacts.add_opt_out(shop.actor, shop.acme, mobile="+34600000003")
    commit()
    campaign = schedule(shop, text="€" * 81)  # GSM-7, € counts two: 162 septets, 2 SMS
    run = next_run(campaign)
    assert run.occurrence == 0 and run.status == RunStatus.SCHEDULED
    assert run.reserved == 2 * 2  # two segments, two recipients (one opted out)
    assert reserved(shop.acme) == 4 and held(shop.acme) == 100
    balance = ledger.balance(shop.acme)
    assert (balance.total_credits, balance.reserved_credits, balance.available_credits) == (
        100,
        4,
        96,
    )
    assert_conserved(shop.acme)


def test_usage_cannot_take_reserved_credits(shop):
    schedule(shop, text="a" * 400)  # 3 segments x 3 recipients = 9
    with pytest.raises(InsufficientCredits):
        record_usage(SYSTEM, shop.acme, credits=92, reference=new_reference())
    rollback()
    record_usage(SYSTEM, shop.acme, credits=91, reference=new_reference())
    commit()
    assert held(shop.acme) == 9 and reserved(shop.acme) == 9
    assert_conserved(shop.acme)


def test_a_batch_of_usage_cannot_take_reserved_credits(shop):
    schedule(shop, text="a" * 400)
    events = [
        UsageEvent(shop.acme.id, 50, new_reference()),
        UsageEvent(shop.acme.id, 42, new_reference()),  # 92 > 91 available: refused
        UsageEvent(shop.acme.id, 41, new_reference()),
    ]
    results = record_usage_batch(SYSTEM, events)
    commit()
    assert [r.status.value for r in results] == ["accepted", "refused", "accepted"]
    assert held(shop.acme) == 9
    assert_conserved(shop.acme)


def test_withdrawals_and_transfers_stop_at_the_reservation(shop):
    schedule(shop)  # 3 credits reserved
    with pytest.raises(InsufficientCredits):
        credits.withdraw_credits(shop.staff, shop.acme, "system", 98, reason="Close-out")
    rollback()
    credits.withdraw_credits(shop.staff, shop.acme, "system", 97, reason="Close-out")
    commit()
    assert held(shop.acme) == 3 and reserved(shop.acme) == 3
    assert_conserved(shop.acme)


def test_scheduling_more_than_is_available_is_refused_and_schedules_nothing(shop):
    record_usage(SYSTEM, shop.acme, credits=98, reference=new_reference())
    commit()
    with pytest.raises(InsufficientCredits) as refused:
        schedule(shop)  # 3 credits, 2 available
    rollback()
    assert "needs 3 credits, and only 2 are available" in str(refused.value)
    assert db.session.scalar(select(func.count(Campaign.id))) == 0
    assert reserved(shop.acme) == 0


def test_cancelling_frees_the_reservation_at_once(shop):
    campaign = schedule(shop, repeat="daily", until=(utcnow() + timedelta(days=5)).date())
    assert reserved(shop.acme) == 3
    campaigns.cancel_campaign(shop.actor, shop.acme, campaign)
    commit()
    assert campaign.status == CampaignStatus.CANCELLED
    assert [r.status for r in runs_of(campaign)] == [RunStatus.CANCELLED]
    assert reserved(shop.acme) == 0 and ledger.balance(shop.acme).available_credits == 100
    with pytest.raises(campaigns.CampaignClosed):
        campaigns.cancel_campaign(shop.actor, shop.acme, campaign)
    rollback()
    assert_conserved(shop.acme)


def test_changing_the_text_reserves_what_the_run_now_costs(shop):
    campaign = schedule(shop)
    assert campaigns.update_campaign(shop.actor, shop.acme, campaign, text="a" * 200)
    commit()
    assert next_run(campaign).reserved == 6 and reserved(shop.acme) == 6
    assert not campaigns.update_campaign(shop.actor, shop.acme, campaign, text="a" * 200)
    assert_conserved(shop.acme)


def test_changing_to_what_cannot_be_covered_changes_nothing(shop):
    campaign = schedule(shop)
    record_usage(SYSTEM, shop.acme, credits=95, reference=new_reference())
    commit()
    with pytest.raises(InsufficientCredits) as refused:
        campaigns.update_campaign(shop.actor, shop.acme, campaign, text="a" * 200)
    rollback()
    # The run's own 3 come free first: 5 held, it needs 6.
    assert "needs 6 credits, and only 5 are available" in str(refused.value)
    assert next_run(campaign).reserved == 3 and campaign.text == "Hello"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"name": ""}, "name"),
        ({"list_id": "cl_nothere"}, "list_id"),
        ({"text": ""}, "text"),
        ({"starts_at": "yesterday"}, "starts_at"),
        ({"starts_at": "2020-01-01T10:00:00Z"}, "starts_at"),
        ({"repeat": "hourly"}, "repeat"),
        ({"repeat": "daily"}, "until"),
        ({"repeat": "weekly", "until": "2020-01-01"}, "until"),
        ({"sender": "a sender name far too long"}, "sender"),
    ],
)
def test_bad_input_is_refused_field_by_field(shop, values, field):
    with pytest.raises(ValidationFailed) as refused:
        schedule(shop, **values)
    rollback()
    assert field in refused.value.fields
    assert reserved(shop.acme) == 0


def test_another_organizations_list_is_not_a_choice(shop):
    with pytest.raises(ValidationFailed) as refused:
        schedule(shop, list_id=shop.beta_customers.id)
    rollback()
    assert "list_id" in refused.value.fields


def test_a_view_only_support_session_cannot_schedule_or_cancel(shop):
    campaign = schedule(shop)
    acting = Actor(
        user_id=shop.owner.user_id,
        reseller_id=shop.acme.reseller_id,
        organization_id=shop.acme.id,
        member_id=shop.owner.id,
        member_role=shop.actor.member_role,
        real_user_id="usr_staff",
        support_mode=SupportMode.VIEW,
    )
    with pytest.raises(ViewOnlySession):
        schedule(shop, actor=acting)
    rollback()
    with pytest.raises(ViewOnlySession):
        campaigns.cancel_campaign(acting, shop.acme, campaign)
    rollback()
    assert next_run(campaign).reserved == 3


def test_postpaid_reserves_nothing(shop):
    campaign = schedule(
        shop,
        org=shop.beta,
        actor=shop.beta_actor,
        repeat=Repeat.WEEKLY.value,
        until=(utcnow() + timedelta(days=30)).date().isoformat(),
    )
    assert campaign.status == CampaignStatus.SCHEDULED
    assert next_run(campaign).reserved == 0 and reserved(shop.beta) == 0


def test_add_credits_keeps_the_reservation(shop):
    schedule(shop)
    credits.add_credits(SYSTEM, shop.acme, SYSTEM_ACCOUNT, 10)
    commit()
    assert held(shop.acme) == 110 and reserved(shop.acme) == 3
    assert_conserved(shop.acme)


def test_scheduling_moves_days_left_and_alerts_once_per_crossing(shop):
    """Days left count the credits available: scheduling reserves (days left down, the
    forecast alert once when they cross its days), cancelling releases (up, re-armed)."""
    from tenants.models import Organization, QueuedJob

    def alerts() -> int:
        return db.session.scalar(
            select(func.count()).where(QueuedJob.name == "send_forecast_email")
        )

    def days_left() -> int | None:
        db.session.expire_all()
        return db.session.get(Organization, shop.acme.id).forecast_days

    shop.acme.forecast_alert_days = 40
    commit()
    record_usage(SYSTEM, shop.acme, credits=14, reference=new_reference())
    commit()
    assert days_left() == 43 and alerts() == 0  # 86 held at 2.0 a day
    first = schedule(shop, text="€" * 81)  # 2 SMS x 3 recipients: 6 reserved
    assert days_left() == 40 and alerts() == 1  # 80 available: crosses 40
    campaigns.cancel_campaign(shop.actor, shop.acme, first)
    commit()
    assert days_left() == 43 and alerts() == 1
    schedule(shop, text="€" * 81)
    assert days_left() == 40 and alerts() == 2
