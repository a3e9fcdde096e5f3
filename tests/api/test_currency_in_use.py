"""Issue 16, item 10 through the API: replacing the price list without a currency customers
pay in is refused with 409 ``currency_in_use``, naming them in the reader's language, and
nothing changes."""

from __future__ import annotations

import pytest

from tenants.access.actors import SYSTEM
from tenants.jobs.outbox import commit
from tenants.organizations.operations import delete_organization
from tenants.resellers import pricing

EUR = {"currency": "EUR", "prepaid_unit_price": "0.045", "postpaid_unit_price": "0.050"}
USD = {"currency": "USD", "prepaid_unit_price": "0.05", "postpaid_unit_price": "0.06"}


@pytest.fixture
def priced(tenants, create_organization):
    """Reseller A lists EUR and USD; Acme and Beta pay in EUR, a deleted one did; reseller
    B's Zeta pays in EUR too."""
    pricing.set_price_list(SYSTEM, tenants.a, [EUR, USD])
    gone = create_organization(tenants.a, name="Gone SL")
    delete_organization(SYSTEM, gone)
    commit()
    assert {tenants.acme.currency, tenants.beta.currency, gone.currency} == {"EUR"}
    return tenants


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "EUR is the currency of 2 organizations: Acme and Beta. Without it"),
        ("es", "EUR es la moneda de 2 organizaciones: Acme y Beta. Sin ella"),
    ],
)
def test_leaving_out_a_currency_in_use_is_409_naming_them(api, priced, language, expected):
    before = api.get("/reseller/price-list", priced.key_a).json
    response = api.put(
        "/reseller/price-list",
        priced.key_a,
        {"prices": [USD]},
        headers={"Accept-Language": language},
    )
    assert response.status_code == 409, response.json
    error = response.json["error"]
    assert error["code"] == "currency_in_use"
    assert error["message"].startswith(expected)
    assert "Gone SL" not in error["message"]
    assert "Zeta" not in error["message"]
    assert api.get("/reseller/price-list", priced.key_a).json == before


def test_leaving_out_a_currency_nobody_pays_in_is_accepted(api, priced):
    response = api.put("/reseller/price-list", priced.key_a, {"prices": [EUR]})
    assert response.status_code == 200, response.json
    assert [row["currency"] for row in response.json["prices"]] == ["EUR"]
