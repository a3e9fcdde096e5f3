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


def test_the_campaign_approval_switch(api, tenants):
    from tenants.core.extensions import db
    from tenants.models import AuditEntry

    assert api.get("/reseller/settings", tenants.key_a).json == {"campaigns_need_approval": False}
    changed = api.patch("/reseller/settings", tenants.key_a, {"campaigns_need_approval": True})
    assert changed.status_code == 200, changed.json
    assert changed.json == {"campaigns_need_approval": True}
    db.session.expire_all()
    assert tenants.a.campaigns_need_approval is True and tenants.b.campaigns_need_approval is False
    entry = db.session.scalar(
        db.select(AuditEntry).where(AuditEntry.action == "reseller.settings_updated")
    )
    assert entry.changes == {"campaigns_need_approval": [False, True]}
    assert api.get("/reseller/settings", tenants.key_b).json == {"campaigns_need_approval": False}
    # The same again changes (and audits) nothing.
    api.patch("/reseller/settings", tenants.key_a, {"campaigns_need_approval": True})
    count = db.select(db.func.count()).select_from(AuditEntry)
    assert db.session.scalar(count.where(AuditEntry.action == "reseller.settings_updated")) == 1
    for body, field in (
        ({"campaigns_need_approval": "yes"}, "campaigns_need_approval"),
        ({"campaigns_need_approval": None}, "campaigns_need_approval"),
        ({"campaigns_need_approval": 1}, "campaigns_need_approval"),
        ({"other": True}, "other"),
    ):
        refused = api.patch("/reseller/settings", tenants.key_a, body)
        assert refused.status_code == 422 and field in refused.json["error"]["fields"], body
    assert api.patch("/reseller/settings", tenants.key_a, {}).status_code == 422
    for method in ("GET", "PATCH"):
        body = {"campaigns_need_approval": False} if method == "PATCH" else None
        assert_error(
            api.call(method, "/reseller/settings", tenants.key_acme, body), 403, "forbidden"
        )
    db.session.expire_all()
    assert tenants.a.campaigns_need_approval is True
