"""Issue 16, item 10: a price-list currency that customers pay in cannot be removed -- the
settings page refuses it naming the organizations, and nothing changes. The rule lives in the
price list's verb (tenants.resellers.pricing.set_price_list); the API's side is
tests/api/test_currency_in_use.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.core.errors import CurrencyInUse
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import AuditEntry
from tenants.organizations.operations import delete_organization, suspend_organization
from tenants.resellers import pricing

EUR = {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.05"}
USD = {"currency": "USD", "prepaid_unit_price": "0.05", "postpaid_unit_price": "0.06"}


@pytest.fixture
def customers(team, create_reseller, create_organization):
    """The team's reseller lists EUR and USD; two of its organizations pay in EUR (one of
    them suspended), one deleted did; nobody pays in USD. Another reseller's customer pays
    in EUR too."""
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR, USD])
    commit()
    acme = create_organization(team.reseller, name="Acme Ibérica SL")
    beta = create_organization(team.reseller, name="Beta Postpago SL", pricing_model="postpaid")
    suspend_organization(SYSTEM, beta, "unpaid")
    gone = create_organization(team.reseller, name="Gone SL")
    delete_organization(SYSTEM, gone)
    other = create_organization(create_reseller(name="Other Telecom"), name="Other Customer SL")
    commit()
    assert {acme.currency, beta.currency, gone.currency, other.currency} == {"EUR"}
    return {"acme": acme.id, "beta": beta.id, "gone": gone.id, "other": other.id}


def listed(reseller) -> list[str]:
    return [row["currency"] for row in pricing.get_price_list(reseller)]


def price_list_changes() -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "reseller.price_list_changed")
    )


def test_the_verb_refuses_and_names_the_organizations(team, customers):
    before = price_list_changes()
    with pytest.raises(CurrencyInUse) as refused:
        pricing.set_price_list(team.admin_actor, team.reseller, [USD])
    error = refused.value
    assert (error.status, error.code) == (409, "currency_in_use")
    assert [(org_id, currency) for org_id, _name, currency in error.organizations] == [
        (customers["acme"], "EUR"),
        (customers["beta"], "EUR"),
    ]
    assert str(error).startswith(
        "EUR is the currency of 2 organizations: Acme Ibérica SL and Beta Postpago SL."
    )
    db.session.rollback()
    assert listed(team.reseller) == ["EUR", "USD"]
    assert price_list_changes() == before


def test_a_currency_nobody_pays_in_is_removed(team, customers):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    commit()
    assert listed(team.reseller) == ["EUR"]


def test_many_organizations_are_counted_and_the_first_named(team, create_organization):
    pricing.set_price_list(team.admin_actor, team.reseller, [EUR, USD])
    for n in range(12):
        create_organization(team.reseller, name=f"Customer {n:02d}", country="US")
    with pytest.raises(CurrencyInUse) as refused:
        pricing.set_price_list(team.admin_actor, team.reseller, [EUR])
    message = str(refused.value)
    assert message.startswith("USD is the currency of 12 organizations: Customer 00, ")
    assert "Customer 09, and 2 more." in message
    assert "Customer 10" not in message
    assert len(refused.value.organizations) == 12


def test_the_settings_page_refuses_with_the_organizations_linked(admin_client, team, customers):
    page = admin_client.get("/reseller/settings/prices").get_data(as_text=True)
    assert "Used by 2 organizations" in page
    before = price_list_changes()

    response = admin_client.post("/reseller/settings/prices/EUR/remove")

    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'data-refusal="currency-in-use"' in html
    assert "EUR is the currency of 2 organizations." in html
    assert f'href="/organizations/{customers["acme"]}/"' in html
    assert f'href="/organizations/{customers["beta"]}/"' in html
    for elsewhere in ("gone", "other"):
        assert customers[elsewhere] not in html
    assert "was removed from the price list" not in html
    db.session.expire_all()
    assert listed(team.reseller) == ["EUR", "USD"]
    assert price_list_changes() == before

    # The currency nobody pays in goes.
    response = admin_client.post("/reseller/settings/prices/USD/remove", follow_redirects=True)
    assert "USD was removed from the price list." in response.get_data(as_text=True)
    assert listed(team.reseller) == ["EUR"]


def test_the_refusal_reads_in_spanish(admin_client, team, customers):
    team.admin.language = "es"
    commit()
    page = admin_client.get("/reseller/settings/prices").get_data(as_text=True)
    assert "Usada por 2 organizaciones" in page
    response = admin_client.post("/reseller/settings/prices/EUR/remove")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "EUR es la moneda de 2 organizaciones." in html
    assert "ya no pueden comprar créditos" in html
    assert listed(team.reseller) == ["EUR", "USD"]
