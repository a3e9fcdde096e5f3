"""Credit limits through the API: the reseller's default per currency in the price list, and
a new organization's credit limit (given, or the default for a postpaid one)."""

from __future__ import annotations

from tests.api.conftest import new_organization

EUR = {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.05"}


def test_the_price_list_carries_a_default_credit_limit_per_currency(api, tenants):
    body = {"prices": [{**EUR, "default_credit_limit": "1500"}, {**EUR, "currency": "JPY"}]}
    response = api.put("/reseller/price-list", tenants.key_a, body)
    assert response.status_code == 200, response.json
    listed = api.get("/reseller/price-list", tenants.key_a).json["prices"]
    assert [(row["currency"], row["default_credit_limit"]) for row in listed] == [
        ("EUR", "1500.00"),
        ("JPY", "0"),
    ]
    # A row that leaves it out keeps it.
    kept = api.put("/reseller/price-list", tenants.key_a, {"prices": [EUR]})
    assert kept.json["prices"][0]["default_credit_limit"] == "1500.00"


def test_a_default_credit_limit_with_more_decimals_than_its_currency_is_refused(api, tenants):
    body = {"prices": [{**EUR, "currency": "JPY", "default_credit_limit": "10.50"}]}
    response = api.put("/reseller/price-list", tenants.key_a, body)
    assert response.status_code == 422
    assert "prices[0].default_credit_limit" in response.json["error"]["fields"]
    for bad in ("-1", "1.001", 10, "1e3", None):
        body = {"prices": [{**EUR, "default_credit_limit": bad}]}
        response = api.put("/reseller/price-list", tenants.key_a, body)
        assert response.status_code == 422, bad
        assert "prices[0].default_credit_limit" in response.json["error"]["fields"], bad


def test_a_new_postpaid_organization_gets_the_default_unless_given_one(api, tenants):
    api.put(
        "/reseller/price-list", tenants.key_a, {"prices": [{**EUR, "default_credit_limit": "800"}]}
    )
    postpaid = api.post("/organizations", tenants.key_a, new_organization(pricing_model="postpaid"))
    assert postpaid.status_code == 201, postpaid.json
    assert postpaid.json["credit_limit"] == "800.00"
    prepaid = api.post(
        "/organizations",
        tenants.key_a,
        new_organization(owner={"name": "Pia", "email": "pia@example.com"}),
    )
    assert prepaid.json["credit_limit"] == "0.00"
    given = api.post(
        "/organizations",
        tenants.key_a,
        new_organization(
            pricing_model="postpaid",
            credit_limit="2500.50",
            owner={"name": "Gil", "email": "gil@example.com"},
        ),
    )
    assert given.status_code == 201 and given.json["credit_limit"] == "2500.50"


def test_a_bad_credit_limit_on_create_is_refused(api, tenants):
    for body, status in (
        (new_organization(pricing_model="postpaid", credit_limit="-1"), 422),
        (new_organization(pricing_model="postpaid", credit_limit=100), 422),
        (new_organization(pricing_model="postpaid", credit_limit="1.001"), 422),
        (new_organization(pricing_model="postpaid", currency="JPY", credit_limit="100.50"), 422),
    ):
        response = api.post("/organizations", tenants.key_a, body)
        assert response.status_code == status, body
        assert "credit_limit" in response.json["error"]["fields"], body
    assert api.get("/organizations", tenants.key_a, query={"q": "Nueva"}).json["data"] == []
