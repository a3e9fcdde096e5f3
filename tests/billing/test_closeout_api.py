"""The API of a postpaid account's close-out: the balance object's unbilled, tax, open
invoices, credit on account and debt; POST …/final-invoice; DELETE refused until settled;
PATCH of the currency or pricing model refused while anything is owed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import update

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, payments, postpaid
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import Organization, PostpaidAccount
from tenants.organizations.operations import suspend_organization
from tests.billing.conftest import reload, use

NOVEMBER_20 = datetime(2026, 11, 20, 10, tzinfo=UTC)


@pytest.fixture
def api_key(app):
    def _create(reseller=None, organization=None):
        from tenants.api_keys.operations import create_api_key

        _key, secret = create_api_key(
            SYSTEM, reseller=reseller, organization=organization, name="close-out test"
        )
        commit()
        return secret

    return _create


def call(client, method, path, key, body=None):
    return client.open(
        "/api/v1" + path,
        method=method,
        data=None if body is None else json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


@pytest.fixture
def owing(clock, create_postpaid):
    """October invoiced (24.20), 5.00 paid of it; 100 SMS in November (5.00 + 1.05 tax)."""
    org = create_postpaid()
    use(org, 400, at=datetime(2026, 10, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    payments.record_payment(SYSTEM, org, "5.00")
    use(org, 100, at=NOVEMBER_20)
    return org


def test_the_balance_shows_unbilled_its_tax_open_invoices_and_debt(
    client, owing, reseller, api_key
):
    for key in (api_key(reseller=reseller), api_key(reseller=reseller, organization=owing)):
        response = call(client, "GET", f"/organizations/{owing.id}/balance", key)
        assert response.status_code == 200, response.json
        body = response.json
        assert {k: body[k] for k in ("unbilled", "unbilled_tax", "open_invoices")} == {
            "unbilled": "5.00",
            "unbilled_tax": "1.05",
            "open_invoices": "19.20",
        }
        assert body["credit_on_account"] == "0.00"
        assert body["debt"] == "25.25" and body["credit_limit"] == "1000.00"


def test_the_balance_shows_a_credit_on_account_and_never_a_negative_debt(
    client, clock, create_postpaid, reseller, api_key
):
    org = create_postpaid()
    use(org, 10, at=NOVEMBER_20)  # 0.50 + 0.105 of tax
    payments.record_payment(SYSTEM, org, "0.60")
    commit()
    key = api_key(reseller=reseller)
    body = call(client, "GET", f"/organizations/{org.id}/balance", key).json
    assert (body["unbilled"], body["unbilled_tax"], body["credit_on_account"]) == (
        "0.50",
        "0.11",
        "0.60",
    )
    assert body["debt"] == "0.01"  # 0.005 left, rounded half-up
    # More paid ahead than is owed (what a rounding can leave): the debt stays at zero.
    db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(paid_ahead=Decimal("0.70"))
    )
    commit()
    body = call(client, "GET", f"/organizations/{org.id}/balance", key).json
    assert body["debt"] == "0.00" and body["credit_on_account"] == "0.70"


def test_the_final_invoice_api(client, owing, reseller, api_key, create_reseller):
    key = api_key(reseller=reseller)
    path = f"/organizations/{owing.id}/final-invoice"
    refused = call(client, "POST", path, key)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "organization_active"
    org_key = api_key(reseller=reseller, organization=owing)
    assert call(client, "POST", path, org_key).status_code == 403
    other = api_key(reseller=create_reseller())
    assert call(client, "POST", path, other).status_code == 404
    suspended = call(client, "POST", f"/organizations/{owing.id}/suspend", key, {"reason": "x"})
    assert suspended.status_code == 200

    response = call(client, "POST", path, key)
    assert response.status_code == 201, response.json
    invoice = response.json
    assert (invoice["kind"], invoice["period"], invoice["status"]) == ("invoice", "2026-11", "open")
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("5.00", "1.05", "6.05")
    assert (
        call(client, "GET", f"/invoices/{invoice['id']}", key).json["number"] == invoice["number"]
    )
    balance = call(client, "GET", f"/organizations/{owing.id}/balance", key).json
    assert (balance["unbilled"], balance["unbilled_tax"]) == ("0.00", "0.00")
    assert balance["open_invoices"] == balance["debt"] == "25.25"

    again = call(client, "POST", path, key)
    assert again.status_code == 409 and again.json["error"]["code"] == "nothing_to_invoice"


def test_delete_waits_for_the_final_invoice_and_its_payment(client, owing, reseller, api_key):
    key = api_key(reseller=reseller)
    path = f"/organizations/{owing.id}"
    refused = call(client, "DELETE", path, key)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "outstanding_debt"
    assert "final invoice" in refused.json["error"]["message"]
    suspend_organization(SYSTEM, owing, "closing")
    commit()
    assert call(client, "POST", f"{path}/final-invoice", key).status_code == 201
    refused = call(client, "DELETE", path, key)
    assert refused.status_code == 409 and "open invoices" in refused.json["error"]["message"]
    paid = call(client, "POST", f"{path}/payments", key, {"amount": "25.25"})
    assert paid.status_code == 201, paid.json
    assert call(client, "DELETE", path, key).status_code == 204
    assert reload(owing).status == "deleted"


def test_currency_and_pricing_model_stay_locked_while_anything_is_owed(
    client, owing, reseller, api_key
):
    key = api_key(reseller=reseller)
    path = f"/organizations/{owing.id}"
    for body, field in (
        ({"currency": "USD"}, "currency"),
        ({"pricing_model": "prepaid"}, "pricing_model"),
    ):
        refused = call(client, "PATCH", path, key, body)
        assert refused.status_code == 409, refused.json
        assert refused.json["error"]["code"] == "outstanding_debt"
        assert field in refused.json["error"]["fields"]
    stored = db.session.get(Organization, owing.id, populate_existing=True)
    assert (stored.currency, stored.pricing_model.value) == ("EUR", "postpaid")


def test_a_paid_ahead_account_is_still_locked_until_invoiced(
    client, clock, create_postpaid, reseller, api_key
):
    org = create_postpaid()
    use(org, 100, at=NOVEMBER_20)
    payments.record_payment(SYSTEM, org, "6.05")
    commit()
    assert postpaid.organization_debt(org) == 0
    key = api_key(reseller=reseller)
    refused = call(client, "PATCH", f"/organizations/{org.id}", key, {"currency": "USD"})
    assert refused.status_code == 409 and refused.json["error"]["code"] == "outstanding_debt"
