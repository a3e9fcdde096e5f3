"""The reseller's price list and tax table through the API (reseller keys only)."""

from __future__ import annotations

from tests.api.test_auth_and_errors import assert_error


def test_price_list_round_trip(api, tenants):
    assert api.get("/reseller/price-list", tenants.key_a).json == {"prices": []}
    prices = {
        "prices": [
            {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.050"},
            {"currency": "USD", "prepaid_unit_price": "0.05", "postpaid_unit_price": "0.06"},
        ]
    }
    response = api.put("/reseller/price-list", tenants.key_a, prices)
    assert response.status_code == 200, response.json
    listed = api.get("/reseller/price-list", tenants.key_a).json
    assert listed == response.json
    eur = listed["prices"][0]
    assert (eur["currency"], eur["prepaid_unit_price"]) == ("EUR", "0.045")
    # Another reseller's list is its own.
    assert api.get("/reseller/price-list", tenants.key_b).json == {"prices": []}


def test_price_list_refuses_bad_rows(api, tenants):
    cases = [
        (
            {
                "prices": [
                    {"currency": "EUR", "prepaid_unit_price": 0.045, "postpaid_unit_price": "0.05"}
                ]
            },
            "prices[0].prepaid_unit_price",
        ),
        (
            {
                "prices": [
                    {"currency": "EUR", "prepaid_unit_price": "-1", "postpaid_unit_price": "0.05"}
                ]
            },
            "prices[0].prepaid_unit_price",
        ),
        (
            {"prices": [{"currency": "EUR", "prepaid_unit_price": "0.045"}]},
            "prices[0].postpaid_unit_price",
        ),
        (
            {
                "prices": [
                    {
                        "currency": "EUR",
                        "prepaid_unit_price": "1",
                        "postpaid_unit_price": "1",
                        "extra": 1,
                    }
                ]
            },
            "prices[0].extra",
        ),
        ({"prices": "EUR"}, "prices"),
        ({}, "prices"),
    ]
    for body, field in cases:
        error = assert_error(
            api.put("/reseller/price-list", tenants.key_a, body), 422, "validation_error"
        )
        assert field in error["fields"], (body, error)
    assert api.get("/reseller/price-list", tenants.key_a).json == {"prices": []}


def test_tax_rates_round_trip_and_range(api, tenants):
    body = {"tax_rates": [{"country": "ES", "percent": "21"}, {"country": "MX", "percent": "16"}]}
    response = api.put("/reseller/tax-rates", tenants.key_a, body)
    assert response.status_code == 200, response.json
    assert api.get("/reseller/tax-rates", tenants.key_a).json == body
    error = assert_error(
        api.put(
            "/reseller/tax-rates",
            tenants.key_a,
            {"tax_rates": [{"country": "ES", "percent": "101"}]},
        ),
        422,
        "validation_error",
    )
    assert "tax_rates[0].percent" in error["fields"]
    error = assert_error(
        api.put(
            "/reseller/tax-rates", tenants.key_a, {"tax_rates": [{"country": "XX", "percent": "5"}]}
        ),
        422,
        "validation_error",
    )
    assert "tax_rates[0].country" in error["fields"]


def test_organization_keys_may_not_touch_reseller_settings(api, tenants):
    for method, path, body in (
        ("GET", "/reseller/price-list", None),
        ("PUT", "/reseller/price-list", {"prices": []}),
        ("GET", "/reseller/tax-rates", None),
        ("PUT", "/reseller/tax-rates", {"tax_rates": []}),
    ):
        assert_error(api.call(method, path, tenants.key_acme, body), 403, "forbidden")
