"""The Customer app in the portal: create an organization, and the list (search, filters, pages)."""

from __future__ import annotations

import sqlalchemy as sa

from tenants.core.extensions import db
from tenants.models import Organization
from tests.conftest import owner_of


def _create_data(**overrides):
    data = {
        "name": "Acme SL",
        "country": "ES",
        "currency": "",
        "timezone": "",
        "pricing_model": "prepaid",
        "billing_type": "company",
        "billing_name": "",
        "billing_address": "Calle Mayor 1, Madrid",
        "billing_tax_id": "B12345678",
        "billing_email": "billing@acme.example",
        "owner_name": "Ana Owner",
        "owner_email": "ana@acme.example",
    }
    data.update(overrides)
    return data


def _organizations():
    return db.session.scalars(sa.select(Organization)).all()


def test_create_organization_defaults_currency_and_timezone_and_invites_owner(
    agent_client, reseller, app
):
    page = agent_client.get("/customers/new")
    assert b"Create organization" in page.data
    assert b"js/organization-form.js" in page.data
    response = agent_client.post("/customers/new", data=_create_data(), follow_redirects=True)
    assert response.status_code == 200
    assert b"Organization Acme SL created" in response.data
    assert b"ana@acme.example" in response.data
    (org,) = _organizations()
    assert response.request.path == f"/organizations/{org.id}/"
    assert (org.currency, org.timezone, org.reseller_id) == ("EUR", "Europe/Madrid", reseller.id)
    assert org.billing_name is None and org.effective_billing_name == "Acme SL"
    assert owner_of(org).user.email == "ana@acme.example"
    # The invitation went through the job queue to the outbox.
    from pathlib import Path

    outbox = list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))
    assert any(b"ana@acme.example" in p.read_bytes() for p in outbox)


def test_create_organization_keeps_explicit_currency_and_timezone(agent_client):
    agent_client.post(
        "/customers/new",
        data=_create_data(country="MX", currency="USD", timezone="America/Tijuana"),
    )
    (org,) = _organizations()
    assert (org.country, org.currency, org.timezone) == ("MX", "USD", "America/Tijuana")


def test_create_form_errors_name_the_field_and_store_nothing(agent_client):
    response = agent_client.post(
        "/customers/new",
        data=_create_data(
            name="x" * 10_000,
            country="XX",
            currency="ZZZ",
            timezone="Mars/Olympus",
            owner_email="not-an-email",
            billing_email="also bad",
            owner_name="",
        ),
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Use at most 200 characters." in html
    assert "Unknown country." in html
    assert "Unknown currency." in html
    assert "Unknown timezone." in html
    assert html.count("Not a valid email address.") == 2
    assert "This field is required." in html
    assert 'id="name-error"' in html and 'id="country-error"' in html
    assert _organizations() == []


def test_create_form_errors_are_in_spanish_for_a_spanish_reader(agent_client, agent):
    agent.language = "es"
    db.session.commit()
    response = agent_client.post("/customers/new", data=_create_data(name="", country="XX"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'lang="es"' in html
    assert "This field is required." not in html or "Este campo es obligatorio." in html
    assert _organizations() == []


def test_list_shows_balance_or_debt_view_and_shortcuts(
    agent_client, reseller, create_organization, set_list_balance
):
    prepaid = create_organization(reseller, name="Prepaid Co", pricing_model="prepaid")
    postpaid = create_organization(reseller, name="Postpaid Co", pricing_model="postpaid")
    set_list_balance(prepaid, credits=1500)
    set_list_balance(postpaid, debt="12.50")
    html = agent_client.get("/customers/").get_data(as_text=True)
    assert "1,500 credits" in html
    assert "€12.50" in html
    assert "Create organization" in html
    for org in (prepaid, postpaid):
        assert f'href="/organizations/{org.id}/"' in html  # View
        for path in ("members/", "payment", "settings", "logs", "invoices", "audit"):
            assert f'href="/organizations/{org.id}/{path}"' in html


def test_list_marks_low_balance_organizations(
    agent_client, reseller, create_organization, set_list_balance
):
    low = create_organization(reseller, name="Almost Out", pricing_model="prepaid")
    fine = create_organization(reseller, name="Well Funded", pricing_model="prepaid")
    set_list_balance(low, credits=40, threshold=50)
    set_list_balance(fine, credits=1500, threshold=50)
    html = agent_client.get("/customers/").get_data(as_text=True)
    rows = {
        name: html.split(name, 1)[1].split("</tr>", 1)[0] for name in ("Almost Out", "Well Funded")
    }
    assert "Low</span>" in rows["Almost Out"]
    assert "Low</span>" not in rows["Well Funded"]
    # Topping up above the threshold clears the mark: the flag follows the balance.
    set_list_balance(low, credits=60, threshold=50)
    html = agent_client.get("/customers/").get_data(as_text=True)
    assert "Low</span>" not in html.split("Almost Out", 1)[1].split("</tr>", 1)[0]


def test_list_search_filters_and_pagination(
    agent_client, reseller, create_organization, set_list_balance, monkeypatch
):
    import reseller.customers.views as customers

    monkeypatch.setattr(customers, "PAGE_SIZE", 2)
    alpha = create_organization(reseller, name="Alpha", owner_email="boss@alpha.example")
    beta = create_organization(reseller, name="beta", billing=_billing("Beta Holdings"))
    gamma = create_organization(reseller, name="Gamma", pricing_model="postpaid")
    delta = create_organization(reseller, name="Delta")
    set_list_balance(alpha, credits=10_000, threshold=100)
    set_list_balance(gamma, debt="5")

    def names(html):
        html = html[html.index('data-section="organizations"') :]  # the list, not the dashboard
        shown = [o for o in (alpha, beta, gamma, delta) if f'data-organization="{o.id}"' in html]
        return [o.name for o in sorted(shown, key=lambda o: html.index(o.id))]

    first = agent_client.get("/customers/").get_data(as_text=True)
    assert names(first) == ["Alpha", "beta"]
    import re

    next_url = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = agent_client.get(next_url).get_data(as_text=True)
    assert names(second) == ["Delta", "Gamma"]
    assert 'rel="next"' not in second
    prev_url = re.search(r'rel="prev" href="([^"]+)"', second).group(1).replace("&amp;", "&")
    assert names(agent_client.get(prev_url).get_data(as_text=True)) == ["Alpha", "beta"]

    def search(**q):
        return names(agent_client.get("/customers/", query_string=q).get_data(as_text=True))

    assert search(q="ALP") == ["Alpha"]
    assert search(q="boss@alpha") == ["Alpha"]
    assert search(q="holdings") == ["beta"]
    assert search(q="%") == []
    assert search(pricing_model="postpaid") == ["Gamma"]
    assert search(has_debt="yes") == ["Gamma"]
    assert search(low_balance="yes") == ["beta", "Delta"]
    assert search(low_balance="no", pricing_model="prepaid") == ["Alpha"]


def _billing(name):
    from tenants.organizations.operations import BillingDetails

    return BillingDetails(name=name)


def test_list_refuses_bad_filters_without_error_page(agent_client):
    response = agent_client.get("/customers/", query_string={"status": "nope", "cursor": "!!"})
    assert response.status_code == 422
    assert b"Not a valid choice." in response.data


def test_deleted_and_suspended_organizations_in_the_list(
    agent_client, reseller, create_organization
):
    kept = create_organization(reseller, name="Kept")
    gone = create_organization(reseller, name="Gone")
    agent_client.post(f"/organizations/{gone.id}/delete")
    html = agent_client.get("/customers/").get_data(as_text=True)
    assert kept.id in html and gone.id not in html
    assert agent_client.get(f"/organizations/{gone.id}/").status_code == 404
