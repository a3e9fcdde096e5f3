"""Invoices and receipts over the API: an organization's list, one invoice, its PDF — and
another tenant's invoice is a 404."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tenants.access.actors import SYSTEM
from tenants.core.extensions import db
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit
from tenants.models import InvoiceItem, InvoiceKind
from tenants.resellers import seller
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
    "tax",
    "total",
    "status",
    "billing",
    "seller",
    "taxes",
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
    seller.update_seller_details(
        SYSTEM,
        tenants.a,
        {
            "legal_name": "Reseller A Telecom SL",
            "address": "Calle Mayor 1\n28013 Madrid",
            "tax_id": "ESB87654321",
            "country": "ES",
        },
    )
    commit()
    return [buy(api, tenants, 1000), buy(api, tenants, 2000)]


@pytest.fixture
def monthly(tenants):
    """A monthly invoice of postpaid Beta whose line keeps a price below the cent."""
    invoice = invoices.issue_invoice(
        tenants.beta,
        kind=InvoiceKind.INVOICE,
        lines=[
            {
                "item": InvoiceItem.SMS_USAGE,
                "item_date": date(2026, 10, 26),
                "quantity": 3,
                "unit_price": Decimal("0.045"),
                "tax_percent": Decimal("21"),
                "reference": "usage",
            }
        ],
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
    assert (receipt["subtotal"], receipt["tax"], receipt["total"]) == ("45.00", "9.45", "54.45")
    assert receipt["taxes"] == [{"percent": "21", "base": "45.00", "tax": "9.45"}]
    assert receipt["billing"]["country"] == "ES"
    assert receipt["billing"]["name"] == "Acme"
    assert receipt["seller"] == {
        "name": "Reseller A Telecom SL",
        "address": "Calle Mayor 1\n28013 Madrid",
        "tax_id": "ESB87654321",
        "country": "ES",
    }
    assert receipt["lines"] == [
        {
            "description": "SMS credits",
            "quantity": 1000,
            "unit_price": "0.045",
            "amount": "45.00",
            "tax_percent": "21",
            "occurred_at": None,
            "reference": receipt["lines"][0]["reference"],
        }
    ]


def test_line_descriptions_in_the_readers_language(api, tenants, receipts, monthly):
    """Lines are stored as keys: the same receipt reads in English or Spanish."""
    spanish = {"Accept-Language": "es"}
    receipt = api.get(f"/invoices/{receipts[0]}", tenants.key_a, headers=spanish).json
    assert receipt["lines"][0]["description"] == "Créditos SMS"
    invoice = api.get(f"/invoices/{monthly}", tenants.key_a, headers=spanish).json
    assert invoice["lines"][0]["description"] == "Consumo de SMS — 26 oct 2026"
    invoice = api.get(f"/invoices/{monthly}", tenants.key_a).json
    assert invoice["lines"][0]["description"] == "SMS usage — Oct 26, 2026"
    listed = api.get(f"/organizations/{tenants.acme.id}/invoices", tenants.key_a, headers=spanish)
    assert {i["lines"][0]["description"] for i in listed.json["data"]} == {"Créditos SMS"}


def test_a_monthly_invoice_keeps_unit_prices_exact_and_rounds_each_line(api, tenants, monthly):
    invoice = api.get(f"/invoices/{monthly}", tenants.key_a).json
    assert (invoice["kind"], invoice["period"], invoice["status"]) == ("invoice", "2026-10", "open")
    (line,) = invoice["lines"]
    assert (line["unit_price"], line["amount"], line["tax_percent"]) == ("0.045", "0.14", "21")
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("0.14", "0.03", "0.17")
    assert invoice["taxes"] == [{"percent": "21", "base": "0.14", "tax": "0.03"}]
    # No seller details set: the reseller's name, nothing else.
    assert invoice["seller"] == {
        "name": tenants.a.name,
        "address": None,
        "tax_id": None,
        "country": None,
    }


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
