"""Money and credits typed on the Customer app's pages are read as the reader writes them
(English "1,000.50", Spanish "1.000,50"); anything ambiguous is refused with a field error
(422), never guessed. The create form sets a postpaid organization's credit limit, else the
reseller's default for its currency applies."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Organization
from tenants.resellers import pricing
from tests.customers.test_portal import _create_data


def reread(org) -> Organization:
    db.session.expire_all()
    return db.session.get(Organization, org.id)


def speak(agent, language: str) -> None:
    agent.language = language
    db.session.commit()


def save_terms(client, org, typed: str):
    return client.post(
        f"/organizations/{org.id}/settings/terms",
        data={"terms-credit_limit": typed, "terms-individual_user_credits": ""},
    )


@pytest.mark.parametrize(
    ("language", "typed", "limit"),
    [
        ("en", "1,000.50", Decimal("1000.50")),
        ("es", "1.000,50", Decimal("1000.50")),
        ("en", "1,000", Decimal("1000")),
        ("es", "1.000", Decimal("1000")),
        ("es", "2500,5", Decimal("2500.5")),
    ],
)
def test_the_credit_limit_is_read_in_the_readers_language(
    agent_client, agent, reseller, create_organization, language, typed, limit
):
    org = create_organization(reseller, pricing_model="postpaid")
    speak(agent, language)
    response = save_terms(agent_client, org, typed)
    assert response.status_code == 302
    assert reread(org).credit_limit == limit


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("en", "1.000", "Use at most 2 decimals."),
        ("en", "1,5", "Write the amount like 1,234.56."),
        ("es", "1,000", "Usa como máximo 2 decimales."),
        ("es", "1.000.5", "Escribe el importe así: 1.234,56."),
        ("en", "-1", "Enter an amount between 0 and 99,999,999."),
    ],
)
def test_an_ambiguous_credit_limit_is_refused_next_to_its_field(
    agent_client, agent, reseller, create_organization, language, typed, message
):
    org = create_organization(reseller, pricing_model="postpaid")
    org.credit_limit = Decimal("300")
    db.session.commit()
    speak(agent, language)
    response = save_terms(agent_client, org, typed)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'id="terms-credit_limit-error"' in html
    assert reread(org).credit_limit == Decimal("300")


def test_the_low_balance_threshold_is_read_in_spanish(
    agent_client, agent, reseller, create_organization
):
    org = create_organization(reseller)
    speak(agent, "es")
    data = {
        "configuration-sender_name": "ACME",
        "configuration-low_balance_alert": "yes",
        "configuration-low_balance_threshold": "1,000",
    }
    refused = agent_client.post(f"/organizations/{org.id}/settings/configuration", data=data)
    assert refused.status_code == 422  # a Spanish "1,000" is one, with decimals: not credits
    data["configuration-low_balance_threshold"] = "1.000"
    saved = agent_client.post(f"/organizations/{org.id}/settings/configuration", data=data)
    assert saved.status_code == 302
    assert reread(org).low_balance_threshold == 1000


# -- creating an organization ---------------------------------------------------------------


def created() -> Organization:
    (org,) = db.session.scalars(sa.select(Organization)).all()
    return org


def set_default_limit(reseller, limit: str, currency: str = "EUR") -> None:
    row = {
        "currency": currency,
        "prepaid_unit_price": "0.045",
        "postpaid_unit_price": "0.05",
        "default_credit_limit": limit,
    }
    pricing.set_price_list(SYSTEM, reseller, [row])
    commit()


def test_a_new_postpaid_organization_gets_the_resellers_default_credit_limit(
    agent_client, reseller
):
    set_default_limit(reseller, "750")
    html = agent_client.get("/customers/new").get_data(as_text=True)
    assert 'name="credit_limit"' in html
    response = agent_client.post("/customers/new", data=_create_data(pricing_model="postpaid"))
    assert response.status_code == 302
    assert created().credit_limit == Decimal("750")


def test_a_new_prepaid_organization_keeps_a_zero_credit_limit(agent_client, reseller):
    set_default_limit(reseller, "750")
    agent_client.post("/customers/new", data=_create_data(pricing_model="prepaid"))
    assert created().credit_limit == Decimal("0")


def test_without_a_default_a_new_postpaid_organization_starts_at_zero(agent_client):
    agent_client.post("/customers/new", data=_create_data(pricing_model="postpaid"))
    assert created().credit_limit == Decimal("0")


@pytest.mark.parametrize(
    ("language", "typed", "limit"),
    [("en", "2,500.50", Decimal("2500.50")), ("es", "2.500,50", Decimal("2500.50"))],
)
def test_the_create_form_sets_the_credit_limit(
    agent_client, agent, reseller, language, typed, limit
):
    set_default_limit(reseller, "750")
    speak(agent, language)
    data = _create_data(pricing_model="postpaid", credit_limit=typed)
    assert agent_client.post("/customers/new", data=data).status_code == 302
    org = created()
    assert org.credit_limit == limit
    from tenants.models import AuditEntry

    audit = db.session.scalar(
        sa.select(AuditEntry).where(AuditEntry.action == "organization.created")
    )
    assert Decimal(audit.changes["credit_limit"][1]) == limit


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("en", "1.000", "Use at most 2 decimals."),
        ("es", "12.50", "Escribe el importe así: 1.234,56."),
        ("en", "-5", "Enter an amount between 0 and 99,999,999."),
    ],
)
def test_an_unreadable_credit_limit_on_the_create_form_creates_nothing(
    agent_client, agent, language, typed, message
):
    speak(agent, language)
    response = agent_client.post(
        "/customers/new", data=_create_data(pricing_model="postpaid", credit_limit=typed)
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html and 'id="credit_limit-error"' in html
    assert db.session.scalars(sa.select(Organization)).all() == []


def test_the_credit_limit_follows_the_currencys_decimals(agent_client):
    """Yen have no minor unit: 100.5 is refused (the form reads the currency chosen)."""
    data = _create_data(pricing_model="postpaid", currency="JPY", credit_limit="100.5")
    response = agent_client.post("/customers/new", data=data)
    assert response.status_code == 422
    assert "Use at most 0 decimals." in response.get_data(as_text=True)
    data["credit_limit"] = "1,000"
    assert agent_client.post("/customers/new", data=data).status_code == 302
    assert created().credit_limit == Decimal("1000")
