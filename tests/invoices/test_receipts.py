"""Tax invoices / receipts that add up and name the seller: full-precision unit prices,
lines rounded half-up that sum to the subtotal, the tax per rate, lines stored as keys and
read in the reader's language (page, PDF), the seller as it was when issued."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader

from tenants.access.actors import SYSTEM
from tenants.credits import purchases
from tenants.invoices import documents as invoices
from tenants.invoices import reading
from tenants.jobs.outbox import commit
from tenants.models import InvoiceLine
from tenants.resellers import seller
from tests.conftest import owner_actor, owner_of

GOOD_CARD = "4242 4242 4242 4242"
SELLER = {
    "legal_name": "Priced Telecom Servicios SL",
    "address": "Calle de Alcalá 42\n28014 Madrid",
    "tax_id": "ESB99999999",
    "country": "ES",
}


@pytest.fixture
def shop(create_priced_reseller, create_organization):
    """€0.045 a prepaid credit, 21 % tax in Spain; the reseller's seller details set."""
    reseller = create_priced_reseller(name="Priced Telecom", prepaid="0.045")
    seller.update_seller_details(SYSTEM, reseller, SELLER)
    org = create_organization(reseller=reseller, name="Acme", country="ES")
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    return org


def buy(org, credit_count: int, language: str = "en"):
    actor = owner_actor(org)
    purchase = purchases.start_purchase(
        actor,
        org,
        credit_count=credit_count,
        account="system",
        payment_method="sandbox",
        language=language,
    )
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    return purchase.receipt


def pdf_text(invoice, language: str | None = None) -> str:
    pdf = invoices.render_invoice_pdf(invoice, language)
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_receipt_pdf_prints_full_prices_the_seller_and_lines_that_add_up(shop):
    receipt = buy(shop, 1001)  # 1001 x 0.045 = 45.045 → 45.05
    (line,) = invoices.invoice_lines(receipt)
    assert (line.unit_price, line.amount) == (Decimal("0.045"), Decimal("45.05"))
    assert receipt.subtotal == line.amount
    assert (receipt.tax, receipt.total) == (Decimal("9.46"), Decimal("54.51"))

    english = pdf_text(receipt, "en")
    assert "€0.045" in english and "€0.04 " not in english
    assert "SMS credits" in english
    assert "€45.05" in english and "€54.51" in english
    assert "Tax (21 %) on €45.05" in english
    assert "Priced Telecom Servicios SL" in english
    assert "Calle de Alcalá 42" in english and "28014 Madrid" in english
    assert "ESB99999999" in english  # the seller's tax number
    assert "B12345678" in english  # the buyer's

    spanish = pdf_text(receipt, "es")
    assert "0,045\xa0€" in spanish
    assert "Créditos SMS" in spanish and "SMS credits" not in spanish
    assert "Impuesto (21 %) sobre 45,05\xa0€ 9,46\xa0€" in spanish
    assert "Vendedor" in spanish and "54,51\xa0€" in spanish
    assert "ESB99999999" in spanish


def test_a_receipt_is_stored_as_keys_and_read_in_each_language(shop):
    receipt = buy(shop, 100, language="es")
    (line,) = invoices.invoice_lines(receipt)
    assert (line.item, line.description, line.tax_percent) == (
        "sms_credits",
        None,
        Decimal("21"),
    )
    assert reading.shown_lines(receipt, [line], "es")[0].description == "Créditos SMS"
    assert reading.shown_lines(receipt, [line], "en")[0].description == "SMS credits"
    assert "Créditos SMS" in pdf_text(receipt)  # the buyer's language by default
    assert "SMS credits" in pdf_text(receipt, "en")


def test_the_receipt_keeps_the_seller_as_it_was_when_issued(shop):
    before = buy(shop, 10)
    seller.update_seller_details(
        SYSTEM, shop.reseller, {**SELLER, "legal_name": "New Name SL", "tax_id": "ESB11111111"}
    )
    commit()
    after = buy(shop, 10)
    assert reading.seller_of(before) == {
        "name": "Priced Telecom Servicios SL",
        "address": "Calle de Alcalá 42\n28014 Madrid",
        "tax_id": "ESB99999999",
        "country": "ES",
    }
    assert reading.seller_of(after)["name"] == "New Name SL"
    assert "ESB99999999" in pdf_text(before) and "ESB11111111" not in pdf_text(before)


def test_without_seller_details_the_resellers_name_is_the_seller(
    create_priced_reseller, create_organization
):
    reseller = create_priced_reseller(name="Plain Telecom")
    org = create_organization(reseller=reseller, country="ES")
    receipt = buy(org, 10)
    assert receipt.seller == {
        "name": "Plain Telecom",
        "address": None,
        "tax_id": None,
        "country": None,
    }
    assert "Plain Telecom" in pdf_text(receipt)


def test_an_invoice_issued_before_reads_as_one_rate_and_the_resellers_name(shop):
    """Rows issued before seller, taxes and line keys were stored (the migration adds them
    NULL): the tax reads as one rate, the seller as the reseller's current name, the line
    as its stored text."""
    receipt = buy(shop, 1000)
    receipt.seller = None
    receipt.taxes = None
    commit()
    # A line as the migration that moved lines into the invoice keeps one issued before
    # keys: its text, no key, no rate (an issued invoice's lines cannot be changed).
    (stored,) = receipt.lines
    line = InvoiceLine(
        quantity=stored.quantity,
        unit_price=stored.unit_price,
        amount=stored.amount,
        description="SMS credits",
    )
    (tax,) = reading.taxes_of(receipt)
    assert (tax.percent, tax.base, tax.tax) == (Decimal("21"), Decimal("45.00"), Decimal("9.45"))
    assert reading.seller_of(receipt)["name"] == "Priced Telecom Servicios SL"
    (shown,) = reading.shown_lines(receipt, [line], "es")
    assert (shown.description, shown.tax_percent) == ("SMS credits", Decimal("21"))
    text = pdf_text(receipt, "en")
    assert "Tax (21 %) on €45.00" in text and "Priced Telecom Servicios SL" in text


def test_the_receipt_page_shows_seller_lines_and_tax_in_the_readers_language(client, auth, shop):
    receipt = buy(shop, 1001)
    owner = owner_of(shop).user
    owner.language = "es"
    commit()
    auth.login(owner.email)
    page = client.get(f"/organizations/{shop.id}/invoices/{receipt.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-section="seller"' in html
    assert "Priced Telecom Servicios SL" in html and "ESB99999999" in html
    assert "Créditos SMS" in html and "SMS credits" not in html
    assert "0,045\xa0€" in html  # the unit price with all its digits
    assert "45,05\xa0€" in html and "54,51\xa0€" in html
    assert 'data-tax="21"' in html
