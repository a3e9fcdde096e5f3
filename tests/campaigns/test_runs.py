"""A campaign's runs (in process, as `flask jobs relay` runs them without Redis): each
occurrence sent once at its time through Send SMS's charge, the reservation turned into the
charge; a run that cannot be covered is not sent and the organization is told; each run's
report and the reseller's decisions go to the notification email."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tenants.access.actors import SYSTEM
from tenants.billing.usage import record_usage
from tenants.campaigns import operations as campaigns
from tenants.campaigns import runs
from tenants.campaigns.occurrences import local_start
from tenants.contacts import operations as contacts
from tenants.core.errors import Forbidden, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    CampaignStatus,
    EntryType,
    LedgerEntry,
    Message,
    MessageRecipient,
    MessageStatus,
    OrganizationStatus,
    RunRefusal,
    RunStatus,
)
from tests.campaigns.conftest import (
    NUMBERS,
    assert_conserved,
    come_due,
    held,
    next_run,
    reserved,
    runs_of,
    schedule,
)
from tests.conftest import new_reference, text_of
from tests.jobs.conftest import outbox

NOTICES = "notices@acme.example"


def messages_of(org) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(db.select(Message).where(Message.organization_id == org.id)))


def test_a_one_off_run_is_sent_once_and_reported(app, shop):
    campaign = schedule(shop)
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    [message] = messages_of(shop.acme)
    assert run.status == RunStatus.SENT and run.message_id == message.id and run.credits == 3
    assert message.status == MessageStatus.DONE and message.recipients == 3
    assert held(shop.acme) == 97 and reserved(shop.acme) == 0
    charges = db.session.scalars(
        db.select(LedgerEntry).where(
            LedgerEntry.organization_id == shop.acme.id,
            LedgerEntry.type == EntryType.MESSAGE,
            LedgerEntry.balance_after.is_not(None),
        )
    ).all()
    assert [entry.credits for entry in charges] == [-3]
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.DONE
    [report] = outbox(app, NOTICES)
    assert "Campaign report: Promo" in report["Subject"]
    assert "Delivered: 3" in text_of(report)
    runs.run_campaign(run.id)  # the same occurrence asked again: nothing more
    commit()
    assert len(messages_of(shop.acme)) == 1 and held(shop.acme) == 97
    assert_conserved(shop.acme)


def test_a_repeating_campaign_runs_each_occurrence_once_then_ends(app, shop):
    start = utcnow() + timedelta(hours=1)
    last_day = local_start(start, shop.acme.timezone).date() + timedelta(days=2)
    campaign = schedule(shop, starts_at=start, repeat="daily", until=last_day)
    for expected in range(3):
        run = next_run(campaign)
        assert run.occurrence == expected and run.reserved == 3
        come_due(run)
        runs.run_campaign(run.id)  # asked a second time: already sent
        commit()
    assert [r.status for r in runs_of(campaign)] == [RunStatus.SENT] * 3
    assert len(messages_of(shop.acme)) == 3 and held(shop.acme) == 91
    db.session.refresh(campaign)
    assert campaign.status == CampaignStatus.DONE and reserved(shop.acme) == 0
    assert len(outbox(app, NOTICES)) == 3
    assert_conserved(shop.acme)


def test_a_run_that_cannot_be_covered_is_not_sent_and_the_organization_is_told(app, shop):
    campaign = schedule(shop)  # 3 reserved
    record_usage(SYSTEM, shop.acme, credits=96, reference=new_reference())
    for number in ("+34600000004", "+34600000005"):
        contacts.add_contact(shop.actor, shop.acme, shop.customers, mobile=number)
    commit()  # the run now costs 5; 4 are held
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.NOT_SENT and run.reason == RunRefusal.INSUFFICIENT_CREDITS
    assert messages_of(shop.acme) == [] and held(shop.acme) == 4 and reserved(shop.acme) == 0
    [notice] = outbox(app, NOTICES)
    assert "Campaign not sent: Promo" in notice["Subject"]
    assert "not enough credits" in text_of(notice)
    assert_conserved(shop.acme)


def test_a_suspended_organizations_run_is_not_sent(app, shop):
    campaign = schedule(shop)
    shop.acme.status = OrganizationStatus.SUSPENDED
    commit()
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.NOT_SENT and run.reason == RunRefusal.ORGANIZATION_INACTIVE
    assert reserved(shop.acme) == 0 and held(shop.acme) == 100


def test_a_run_to_a_list_of_opted_out_numbers_is_not_sent(app, shop):
    campaign = schedule(shop)
    for number in NUMBERS:
        contacts.add_opt_out(shop.actor, shop.acme, mobile=number)
    commit()
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.NOT_SENT and run.reason == RunRefusal.LIST_EMPTY


def test_a_run_skips_the_lists_opted_out_numbers_and_charges_the_others(app, shop):
    campaign = schedule(shop)
    contacts.add_opt_out(shop.actor, shop.acme, mobile=NUMBERS[1])
    commit()
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    [message] = messages_of(shop.acme)
    assert run.status == RunStatus.SENT and run.credits == 2
    assert (message.recipients, message.skipped, message.credits) == (2, 1, 2)
    sent_to = db.session.scalars(
        db.select(MessageRecipient.number).where(MessageRecipient.message_id == message.id)
    ).all()
    assert sorted(sent_to) == sorted(n for n in NUMBERS if n != NUMBERS[1])
    assert held(shop.acme) == 98 and reserved(shop.acme) == 0
    assert_conserved(shop.acme)


def test_a_postpaid_run_accrues_within_the_credit_limit(app, shop):
    campaign = schedule(shop, org=shop.beta, actor=shop.beta_actor)
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.SENT and run.credits == 3


def test_a_postpaid_run_beyond_the_credit_limit_is_not_sent(app, shop):
    campaign = schedule(shop, org=shop.beta, actor=shop.beta_actor)  # €0.2178 of a €1.00 limit
    record_usage(SYSTEM, shop.beta, credits=12, reference=new_reference())  # €0.8712 used since
    commit()
    come_due(next_run(campaign))
    [run] = runs_of(campaign)
    assert run.status == RunStatus.NOT_SENT and run.reason == RunRefusal.INSUFFICIENT_CREDITS


# -- approval ----------------------------------------------------------------------------


@pytest.fixture
def approving(shop):
    shop.reseller.campaigns_need_approval = True
    commit()
    return shop


def test_a_pending_campaign_waits_for_approval_then_runs(app, approving):
    shop = approving
    campaign = schedule(shop)
    assert campaign.status == CampaignStatus.PENDING_APPROVAL and reserved(shop.acme) == 3
    come_due(next_run(campaign))  # its time passes while it waits: nothing is sent
    assert messages_of(shop.acme) == [] and next_run(campaign).status == RunStatus.SCHEDULED
    with pytest.raises(Forbidden):
        campaigns.approve_campaign(shop.actor, shop.acme, campaign)
    rollback()
    campaigns.approve_campaign(shop.staff, shop.acme, campaign)
    commit()  # its time has passed: it runs at once
    db.session.refresh(campaign)
    assert [r.status for r in runs_of(campaign)] == [RunStatus.SENT]
    subjects = [m["Subject"] for m in outbox(app, NOTICES)]
    assert "Campaign approved: Promo" in subjects and "Campaign report: Promo" in subjects
    assert_conserved(shop.acme)


def test_a_rejected_campaign_frees_its_credits_and_the_reason_is_told(app, approving):
    shop = approving
    campaign = schedule(shop)
    with pytest.raises(ValidationFailed):
        campaigns.reject_campaign(shop.staff, shop.acme, campaign, reason=" ")
    rollback()
    campaigns.reject_campaign(shop.staff, shop.acme, campaign, reason="Wording not allowed")
    commit()
    assert campaign.status == CampaignStatus.REJECTED and reserved(shop.acme) == 0
    [notice] = outbox(app, NOTICES)
    assert "Campaign rejected: Promo" in notice["Subject"]
    assert "Wording not allowed" in text_of(notice)
    with pytest.raises(campaigns.NotPendingApproval):
        campaigns.approve_campaign(shop.staff, shop.acme, campaign)
    rollback()


def test_the_resellers_own_campaigns_need_no_approval(app, approving):
    shop = approving
    campaign = schedule(shop, actor=shop.staff)
    assert campaign.status == CampaignStatus.SCHEDULED


def test_a_change_waits_for_approval_again(app, approving):
    shop = approving
    campaign = schedule(shop)
    campaigns.approve_campaign(shop.staff, shop.acme, campaign)
    commit()
    campaigns.update_campaign(shop.actor, shop.acme, campaign, text="New words")
    commit()
    assert campaign.status == CampaignStatus.PENDING_APPROVAL
