"""Fixtures for automated campaigns: the sandbox gateway, a priced reseller with a prepaid
organization (100 credits, a list of three customers) and a postpaid one (a €1.00 credit
limit), another reseller's organization; helpers to schedule a campaign and to let time
pass for its runs (the relay runs what is due, in process: no REDIS_URL)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from tenants.access.actors import SYSTEM
from tenants.campaigns import operations as campaigns
from tenants.contacts import operations as contacts
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.jobs.worker import relay
from tenants.models import (
    Campaign,
    CampaignRun,
    CreditAccount,
    LedgerEntry,
    Organization,
    QueuedJob,
    ResellerRole,
    RunStatus,
)
from tenants.models.ledger import HOLDING_KINDS, SYSTEM_ACCOUNT, AccountKind
from tests.api.conftest import Api, create_api_key  # noqa: F401  (fixtures)
from tests.conftest import owner_actor, owner_of, staff_actor
from tests.jobs.conftest import redis  # noqa: F401  (fixture)

NUMBERS = ["+34600000001", "+34600000002", "+34600000003"]


@pytest.fixture
def app(app):
    app.config.update(SMS_GATEWAY="sandbox", MESSAGE_GATEWAY_RATE=0, MESSAGE_BATCH_SIZE=100)
    return app


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def shop(create_priced_reseller, create_organization, create_reseller, create_reseller_staff):
    """Acme (prepaid, Spain, 100 credits, sender ACME, notices to notices@acme.example, the
    list "Customers" of three numbers); Beta (postpaid, €1.00 credit limit, its own list of
    three); Zeta of another reseller; Rita, an agent of Acme's reseller."""
    reseller = create_priced_reseller(name="Camp Telecom", prepaid="0.05", postpaid="0.06")
    acme = create_organization(reseller, name="Acme", country="ES")
    acme.sender_name = "ACME"
    acme.notification_email = "notices@acme.example"
    credits.add_credits(SYSTEM, acme, SYSTEM_ACCOUNT, 100)
    beta = create_organization(reseller, name="Beta", country="ES", pricing_model="postpaid")
    beta.credit_limit = Decimal("1.00")
    zeta = create_organization(create_reseller(name="Other"), name="Zeta", country="ES")
    rita = create_reseller_staff(reseller, ResellerRole.AGENT, email="rita@camp.example")
    lists = {}
    for org in (acme, beta):
        lists[org.id] = contacts.create_list(owner_actor(org), org, name="Customers")
        for number in NUMBERS:
            contacts.add_contact(owner_actor(org), org, lists[org.id], mobile=number)
    commit()
    return SimpleNamespace(
        reseller=reseller,
        acme=acme,
        beta=beta,
        zeta=zeta,
        owner=owner_of(acme),
        actor=owner_actor(acme),
        beta_actor=owner_actor(beta),
        staff=staff_actor(reseller, rita),
        rita=rita,
        customers=lists[acme.id],
        beta_customers=lists[beta.id],
    )


def schedule(shop, org=None, actor=None, **values) -> Campaign:
    """A campaign of Acme (or ``org``) to its list, an hour from now unless told, committed."""
    org = org or shop.acme
    values.setdefault("name", "Promo")
    values.setdefault("list_id", (shop.customers if org is shop.acme else shop.beta_customers).id)
    values.setdefault("text", "Hello")
    values.setdefault("starts_at", utcnow() + timedelta(hours=1))
    campaign = campaigns.create_campaign(actor or shop.actor, org, **values)
    commit()
    return campaign


def runs_of(campaign: Campaign) -> list[CampaignRun]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(CampaignRun)
            .where(CampaignRun.campaign_id == campaign.id)
            .order_by(CampaignRun.occurrence)
        )
    )


def next_run(campaign: Campaign) -> CampaignRun | None:
    return next((r for r in runs_of(campaign) if r.status == RunStatus.SCHEDULED), None)


def come_due(run: CampaignRun) -> None:
    """Its time has come: the run and the jobs asked for it are due now, and the relay (in
    process, as `flask jobs relay` without Redis) runs them."""
    past = utcnow() - timedelta(seconds=1)
    db.session.execute(update(CampaignRun).where(CampaignRun.id == run.id).values(due_at=past))
    waiting = db.session.scalars(
        select(QueuedJob).where(QueuedJob.name == "run_campaign", QueuedJob.finished_at.is_(None))
    ).all()
    for queued in waiting:
        if queued.kwargs.get("run_id") == run.id:
            queued.run_at = past
    commit()
    relay()
    db.session.expire_all()


def held(org) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.balance), 0)).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS)
        )
    )


def reserved(org) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(func.coalesce(func.sum(CreditAccount.reserved), 0)).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS)
        )
    )


def ledger_sum(org, kind: AccountKind) -> int:
    """The credits posted to one of the organization's counter-accounts."""
    return db.session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.credits), 0)).where(
            LedgerEntry.organization_id == org.id, LedgerEntry.account_kind == kind
        )
    )


def assert_conserved(org) -> None:
    """Held == bought - used - withdrawn + refunded (the counter-accounts mirror the holding
    ones), and 0 <= reserved <= balance, reserved == the scheduled runs' reservations."""
    db.session.expire_all()
    bought = -ledger_sum(org, AccountKind.PURCHASES) - ledger_sum(org, AccountKind.ADJUSTMENTS)
    used = ledger_sum(org, AccountKind.USAGE)  # usage and messages, less their refunds
    withdrawn = ledger_sum(org, AccountKind.WITHDRAWALS)
    assert held(org) == bought - used - withdrawn
    rows = db.session.execute(
        select(CreditAccount.balance, CreditAccount.reserved).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind.in_(HOLDING_KINDS)
        )
    ).all()
    assert all(0 <= r <= b for b, r in rows)
    scheduled = db.session.scalar(
        select(func.coalesce(func.sum(CampaignRun.reserved), 0)).where(
            CampaignRun.organization_id == org.id, CampaignRun.status == RunStatus.SCHEDULED
        )
    )
    assert reserved(org) == scheduled
    total = db.session.execute(
        select(Organization.total_credits, Organization.reserved_credits).where(
            Organization.id == org.id
        )
    ).one()
    assert tuple(total) == (held(org), scheduled)
