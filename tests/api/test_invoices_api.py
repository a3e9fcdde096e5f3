"""Invoices and receipts over the API: an organization's list, one invoice, its PDF — and
another tenant's invoice is a 404."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tenants.core.extensions import db
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit
from tenants.models import InvoiceKind
from tests.api.test_auth_and_errors import assert_error
from tests.credits.conftest import set_credit_prices

INVOICE_FIELDS = {
    "id",
    "organization_id",
    "number",
    "kind",
    "period",
    "issued_at",
    "paid_at",
    "currency",
    "subtotal",
    "tax_percent",
    "tax",
    "total",
    "status",
    "billing",
    "lines",
}


def buy(api, tenants, credit_count: int) -> str:
    response = api.post(
        f"/organizations/{tenants.acme.id}/purchases",
        tenants.key_a,
        {"credits": credit_count, "account": "system", "payment_method": "offline"},
    )
    assert response.status_code == 201, response.json
    return response.json["receipt_id"]


@pytest.fixture
def receipts(api, tenants) -> list[str]:
    set_credit_prices(tenants.a)
    return [buy(api, tenants, 1000), buy(api, tenants, 2000)]


@pytest.fixture
def monthly(tenants):
    """A monthly invoice of postpaid Beta whose line keeps a price below the cent."""
    invoice = invoices.issue_invoice(
        tenants.beta,
        kind=InvoiceKind.INVOICE,
        lines=[
            {
                "description": "SMS",
                "quantity": 3,
                "unit_price": Decimal("0.045"),
                "amount": Decimal("0.135"),
                "reference": "usage",
            }
        ],
        tax_percent=Decimal("21"),
        billing=invoices.billing_snapshot(tenants.beta),
        language="en",
        period="2026-10",
    )
    commit()
    return invoice.id


def test_list_newest_first_a_page_at_a_time(api, tenants, receipts):
    url = f"/organizations/{tenants.acme.id}/invoices"
    first = api.get(url, tenants.key_acme, query={"limit": "1"})
    assert first.status_code == 200
    assert [i["id"] for i in first.json["data"]] == [receipts[1]]
    assert set(first.json["data"][0]) == INVOICE_FIELDS
    second = api.get(
        url, tenants.key_acme, query={"limit": "1", "cursor": first.json["next_cursor"]}
    )
    assert [i["id"] for i in second.json["data"]] == [receipts[0]]
    assert second.json["next_cursor"] is None


def test_a_receipt_as_issued(api, tenants, receipts):
    response = api.get(f"/invoices/{receipts[0]}", tenants.key_a)
    assert response.status_code == 200
    receipt = response.json
    assert receipt["kind"] == "receipt"
    assert receipt["status"] == "paid"
    assert receipt["period"] is None
    assert receipt["organization_id"] == tenants.acme.id
    assert (receipt["subtotal"], receipt["tax_percent"], receipt["tax"], receipt["total"]) == (
        "45.00",
        "21",
        "9.45",
        "54.45",
    )
    assert receipt["billing"]["country"] == "ES"
    assert receipt["billing"]["name"] == "Acme"
    assert receipt["lines"] == [
        {
            "description": "SMS credits",
            "quantity": 1000,
            "unit_price": "0.045",
            "amount": "45.00",
            "occurred_at": None,
            "reference": receipt["lines"][0]["reference"],
        }
    ]


def test_a_monthly_invoice_keeps_line_amounts_exact_and_rounds_totals(api, tenants, monthly):
    invoice = api.get(f"/invoices/{monthly}", tenants.key_a).json
    assert (invoice["kind"], invoice["period"], invoice["status"]) == ("invoice", "2026-10", "open")
    assert invoice["lines"][0]["amount"] == "0.135"
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("0.14", "0.03", "0.17")


def test_the_pdf(api, tenants, receipts):
    response = api.get(f"/invoices/{receipts[0]}.pdf", tenants.key_acme)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    number = db.session.scalar(
        db.select(invoices.Invoice.number).where(invoices.Invoice.id == receipts[0])
    )
    assert f'filename="{number}.pdf"' in response.headers["Content-Disposition"]
    spanish = api.get(
        f"/invoices/{receipts[0]}.pdf", tenants.key_acme, headers={"Accept-Language": "es"}
    )
    assert spanish.status_code == 200
    assert spanish.data.startswith(b"%PDF")


def test_another_tenants_invoice_is_404(api, tenants, receipts, monthly):
    for key, invoice_id in (
        (tenants.key_b, receipts[0]),
        (tenants.key_b, monthly),
        (tenants.key_acme, monthly),  # Beta's: same reseller, another organization
    ):
        for suffix in ("", ".pdf"):
            assert_error(api.get(f"/invoices/{invoice_id}{suffix}", key), 404, "not_found")
    assert_error(
        api.get(f"/organizations/{tenants.beta.id}/invoices", tenants.key_acme), 404, "not_found"
    )
    assert api.get(f"/organizations/{tenants.zeta.id}/invoices", tenants.key_b).json == {
        "data": [],
        "next_cursor": None,
    }


def test_garbage_ids_and_queries_never_cause_a_500(api, tenants, receipts):
    for bad_id in ("x" * 500, "%00", "inv_' OR 1=1 --", "🙂", "%ED%A0%80", "inv_missing"):
        for suffix in ("", ".pdf"):
            assert_error(api.get(f"/invoices/{bad_id}{suffix}", tenants.key_a), 404, "not_found")
    url = f"/organizations/{tenants.acme.id}/invoices"
    for query in (
        {"cursor": "!!!"},
        {"cursor": "eyJuIjogMX0"},
        {"cursor": "WyJ4IiwgMV0"},
        {"cursor": "x" * 201},
        {"limit": "0"},
        {"limit": "1e3"},
        {"kind": "receipt"},
    ):
        response = api.get(url, tenants.key_a, query=query)
        assert_error(response, 422, "validation_error")
