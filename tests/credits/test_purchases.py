"""Buying credits: quotes, sandbox and offline payments, exactly-once credit, receipts."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tenants import credits, invoices, pricing, purchases
from tenants.actors import SYSTEM, Actor
from tenants.errors import ValidationFailed
from tenants.extensions import db
from tenants.models import (
    Invoice,
    LedgerEntry,
    MemberRole,
    Organization,
    Purchase,
    PurchaseStatus,
    ResellerRole,
)
from tenants.queue import commit
from tests.conftest import owner_of

DECLINED = "4000 0000 0000 0002"
GOOD_CARD = "4242 4242 4242 4242"


@pytest.fixture
def priced_org(create_reseller, create_organization):
    reseller = create_reseller(name="Priced Telecom")
    pricing.set_price_list(
        SYSTEM,
        reseller,
        [
            {
                "currency": "EUR",
                "prepaid_unit_price": Decimal("0.045"),
                "postpaid_unit_price": Decimal("0.05"),
            }
        ],
    )
    pricing.set_tax_rates(SYSTEM, reseller, [{"country": "ES", "percent": Decimal("21")}])
    commit()
    org = create_organization(reseller=reseller, country="ES", pricing_model="prepaid")
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    return org


def owner_actor(org: Organization) -> Actor:
    owner = owner_of(org)
    return Actor(
        user_id=owner.user_id,
        reseller_id=org.reseller_id,
        organization_id=org.id,
        member_id=owner.id,
        member_role=MemberRole.OWNER,
    )


def test_quote_rounds_each_total_half_up(priced_org):
    quote = purchases.quote(priced_org, 1001)
    # 1001 x 0.045 = 45.045 → 45.05; tax 21 % of 45.05 = 9.4605 → 9.46
    assert quote.subtotal == Decimal("45.05")
    assert quote.tax == Decimal("9.46")
    assert quote.total == Decimal("54.51")


def test_sandbox_purchase_credits_once_and_issues_a_receipt(priced_org):
    actor = owner_actor(priced_org)
    purchase = purchases.start_purchase(
        actor, priced_org, credit_count=1000, account="system", payment_method="sandbox"
    )
    commit()
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    # Double submit, reload, retried callback: nothing more happens.
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    purchases.complete(actor, purchase, "retry")
    commit()
    assert purchase.status == PurchaseStatus.PAID
    assert credits.balance(priced_org).system_credits == 1000
    receipt = db.session.get(Invoice, purchase.receipt_id)
    assert receipt.kind == "receipt"
    assert receipt.total == Decimal("54.45")
    assert receipt.billing["name"] == "Acme Billing SL"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1


def test_declined_card_changes_nothing(priced_org):
    actor = owner_actor(priced_org)
    purchase = purchases.start_purchase(
        actor, priced_org, credit_count=500, account="system", payment_method="sandbox"
    )
    commit()
    purchases.pay(actor, purchase, {"card_number": DECLINED})
    commit()
    assert purchase.status == PurchaseStatus.DECLINED
    assert purchase.decline_reason == "Your card was declined."
    assert credits.balance(priced_org).system_credits == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LedgerEntry)) == 0


def test_offline_payment_is_for_reseller_staff_only(priced_org):
    with pytest.raises(ValidationFailed) as info:
        purchases.start_purchase(
            owner_actor(priced_org),
            priced_org,
            credit_count=10,
            account="system",
            payment_method="offline",
        )
    assert "payment_method" in info.value.fields
    staff = Actor(
        user_id=None, reseller_id=priced_org.reseller_id, reseller_role=ResellerRole.AGENT
    )
    purchase = purchases.start_purchase(
        staff, priced_org, credit_count=10, account="system", payment_method="offline"
    )
    purchases.pay(staff, purchase, {"note": "bank transfer 42"})
    commit()
    assert purchase.status == PurchaseStatus.PAID
    assert credits.balance(priced_org).system_credits == 10


def test_receipt_numbers_have_no_gaps(priced_org):
    actor = owner_actor(priced_org)
    for _ in range(3):
        purchase = purchases.start_purchase(
            actor, priced_org, credit_count=10, account="system", payment_method="sandbox"
        )
        purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
        commit()
    # A failed attempt in between gives its number back.
    purchase = purchases.start_purchase(
        actor, priced_org, credit_count=10, account="system", payment_method="sandbox"
    )
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    db.session.rollback()
    purchase = purchases.start_purchase(
        actor, priced_org, credit_count=10, account="system", payment_method="sandbox"
    )
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    sequences = db.session.scalars(sa.select(Invoice.sequence).order_by(Invoice.sequence)).all()
    assert sequences == [1, 2, 3, 4]


def test_receipt_pdf_shows_totals_and_tax(priced_org):
    actor = owner_actor(priced_org)
    purchase = purchases.start_purchase(
        actor,
        priced_org,
        credit_count=1001,
        account="system",
        payment_method="sandbox",
        language="es",
    )
    purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    commit()
    pdf = invoices.render_invoice_pdf(purchase.receipt)
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert purchase.receipt.number in text
    assert "45,05" in text  # subtotal, Spanish formatting
    assert "9,46" in text  # tax
    assert "54,51" in text  # total
    assert "Acme Billing SL" in text
    assert "B12345678" in text


@pytest.mark.postgres_only
def test_concurrent_confirmations_credit_once(app, priced_org):
    actor = owner_actor(priced_org)
    purchase = purchases.start_purchase(
        actor, priced_org, credit_count=300, account="system", payment_method="sandbox"
    )
    commit()
    purchase_id = purchase.id
    db.session.rollback()

    def confirm(_):
        with app.app_context():
            try:
                p = db.session.get(Purchase, purchase_id)
                purchases.pay(actor, p, {"card_number": GOOD_CARD})
                commit()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(confirm, range(8)))
    assert credits.balance(priced_org).system_credits == 300
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1
