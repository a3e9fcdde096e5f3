"""Fixtures for Send SMS: the sandbox gateway, a priced reseller with a prepaid organization
holding credits and a postpaid one with a credit limit, real Redis and RQ workers (from
tests/jobs), API keys and the JSON client (from tests/api)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.credits import operations as credits
from tenants.jobs.outbox import commit
from tenants.models import CreditAccount, LedgerEntry, SmsMessage
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind
from tests.api.conftest import Api, create_api_key  # noqa: F401  (fixtures)
from tests.conftest import owner_actor, owner_of
from tests.jobs.conftest import redis  # noqa: F401  (fixture)

SECRET = "report-secret-for-tests"


@pytest.fixture
def app(app):
    app.config.update(
        SMS_GATEWAY="sandbox",
        MESSAGE_GATEWAY_RATE=0,  # no pacing in tests
        MESSAGE_BATCH_SIZE=2,
        DELIVERY_REPORT_SECRET=SECRET,
    )
    return app


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def shop(create_priced_reseller, create_organization, create_reseller):
    """A reseller (€0.05 a prepaid credit, €0.06 postpaid, 21 % tax in Spain); Acme (prepaid,
    Spain, 100 credits, sender ACME) and Beta (postpaid, Spain, €1.00 credit limit); Zeta of
    another reseller."""
    reseller = create_priced_reseller(name="Text Telecom", prepaid="0.05", postpaid="0.06")
    acme = create_organization(reseller, name="Acme", country="ES")
    acme.sender_name = "ACME"
    credits.add_credits(SYSTEM, acme, SYSTEM_ACCOUNT, 100)
    beta = create_organization(reseller, name="Beta", country="ES", pricing_model="postpaid")
    beta.credit_limit = Decimal("1.00")
    zeta = create_organization(create_reseller(name="Other"), name="Zeta", country="ES")
    commit()
    return SimpleNamespace(
        reseller=reseller,
        acme=acme,
        beta=beta,
        zeta=zeta,
        owner=owner_of(acme),
        actor=owner_actor(acme),
        beta_actor=owner_actor(beta),
    )


def pool(org) -> int:
    db.session.expire_all()
    return db.session.scalar(
        select(CreditAccount.balance).where(
            CreditAccount.organization_id == org.id, CreditAccount.kind == AccountKind.SYSTEM
        )
    )


def entries(org, entry_type) -> list[LedgerEntry]:
    return list(
        db.session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.organization_id == org.id,
                LedgerEntry.type == entry_type,
                LedgerEntry.balance_after.is_not(None),
            )
        )
    )


def gateway_sends(reference: str | None = None) -> int:
    """Messages the sandbox gateway accepted (each reference once), or those of one reference."""
    query = select(func.count()).select_from(SmsMessage).where(SmsMessage.gateway == "sandbox")
    if reference is not None:
        query = query.where(SmsMessage.gateway_reference == reference)
    return db.session.scalar(query)
