"""A postpaid organization's campaigns (SPEC §4a, §4): nothing is reserved, but a campaign is
scheduled (or changed) only when its next run's charge — with the runs the organization's
other campaigns have scheduled — fits under the credit limit less the debt; the run itself
accrues per segment within the limit. Beta: €0.06 an SMS, 21 % tax, a €1.00 limit, a list
of three: a one-SMS run charges €0.18 + €0.0378 tax = €0.2178 (money is kept to 4 places)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.billing.postpaid import organization_debt
from tenants.billing.usage import record_usage
from tenants.campaigns import operations as campaigns
from tenants.core.errors import InsufficientCredits
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit, rollback
from tenants.models import Campaign, Charge, Message, RunRefusal, RunStatus
from tests.campaigns.conftest import come_due, next_run, runs_of, schedule
from tests.conftest import new_reference


def beta_campaign(shop, **values) -> Campaign:
    return schedule(shop, org=shop.beta, actor=shop.beta_actor, **values)


def campaigns_of(org) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.count(Campaign.id)).where(Campaign.organization_id == org.id)
    )


def test_scheduling_counts_the_other_scheduled_runs_against_the_credit_limit(shop):
    for name in ("One", "Two", "Three", "Four"):  # 4 x €0.2178 = €0.8712 of €1.00
        beta_campaign(shop, name=name)
    with pytest.raises(InsufficientCredits) as refused:
        beta_campaign(shop, name="Five")  # €1.089
    rollback()
    message = str(refused.value)
    assert "credit limit" in message and "€1.09" in message and "€1.00" in message
    assert campaigns_of(shop.beta) == 4


def test_a_cancelled_campaign_no_longer_counts(shop):
    first = beta_campaign(shop, name="One")
    for name in ("Two", "Three", "Four"):
        beta_campaign(shop, name=name)
    campaigns.cancel_campaign(shop.beta_actor, shop.beta, first)
    commit()
    assert beta_campaign(shop, name="Five").status.value == "scheduled"


def test_the_debt_counts_against_the_limit(shop):
    record_usage(SYSTEM, shop.beta, credits=12, reference=new_reference())  # €0.72 + €0.1512
    commit()
    with pytest.raises(InsufficientCredits):
        beta_campaign(shop)  # €0.2178 > €0.1288 left
    rollback()
    assert campaigns_of(shop.beta) == 0


def test_a_change_that_the_limit_cannot_cover_changes_nothing(shop):
    campaign = beta_campaign(shop)
    with pytest.raises(InsufficientCredits):
        # 7 SMS x 3 = 21 credits: €1.26 + €0.26
        campaigns.update_campaign(shop.beta_actor, shop.beta, campaign, text="a" * 1000)
    rollback()
    db.session.refresh(campaign)
    assert campaign.text == "Hello"
    campaigns.update_campaign(shop.beta_actor, shop.beta, campaign, text="a" * 200)  # 2 SMS
    commit()
    assert campaign.text == "a" * 200


def test_the_api_answers_402_with_the_reason(api, shop, create_api_key):
    key = create_api_key(organization=shop.beta)
    body = {
        "name": "Big",
        "list_id": shop.beta_customers.id,
        "text": "a" * 1000,
        "starts_at": (utcnow() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    answer = api.post(f"/organizations/{shop.beta.id}/campaigns", key, body)
    assert answer.status_code == 402
    assert answer.json["error"]["code"] == "insufficient_credits"
    assert "credit limit" in answer.json["error"]["message"]
    assert campaigns_of(shop.beta) == 0


def test_a_run_accrues_per_segment_within_the_limit(app, shop):
    campaign = beta_campaign(shop, text="a" * 200)  # 2 SMS (153 a part) x 3 recipients
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.SENT and run.credits == 6
    message = db.session.get(Message, run.message_id)
    assert (message.segments, message.recipients, message.credits) == (2, 3, 6)
    assert message.postpaid
    [charge] = db.session.scalars(
        select(Charge).where(Charge.organization_id == shop.beta.id)
    ).all()
    assert (charge.credits, charge.amount, charge.tax) == (6, Decimal("0.36"), Decimal("0.0756"))
    assert organization_debt(shop.beta) == Decimal("0.4356")


def test_a_run_the_limit_no_longer_covers_is_not_sent_nor_charged(app, shop):
    campaign = beta_campaign(shop)
    record_usage(SYSTEM, shop.beta, credits=12, reference=new_reference())  # €0.8712 of €1.00
    commit()
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.NOT_SENT and run.reason == RunRefusal.INSUFFICIENT_CREDITS
    assert organization_debt(shop.beta) == Decimal("0.8712")
