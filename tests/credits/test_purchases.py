"""Buying credits: quotes, sandbox and offline payments, exactly-once credit, receipts."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from tenants.access.actors import Actor
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import ledger, purchases
from tenants.invoices import documents as invoices
from tenants.jobs.outbox import commit
from tenants.models import (
    AuditEntry,
    Invoice,
    LedgerEntry,
    Organization,
    Purchase,
    PurchaseStatus,
    ResellerRole,
)
from tests.conftest import member_actor, owner_actor

DECLINED = "4000 0000 0000 0002"
GOOD_CARD = "4242 4242 4242 4242"


@pytest.fixture
def priced_org(create_priced_reseller, create_organization):
    reseller = create_priced_reseller(name="Priced Telecom")
    org = create_organization(reseller=reseller, country="ES", pricing_model="prepaid")
    org.billing_name = "Acme Billing SL"
    org.billing_tax_id = "B12345678"
    commit()
    return org


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
    assert ledger.balance(priced_org).system_credits == 1000
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
    assert ledger.balance(priced_org).system_credits == 0
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
    assert ledger.balance(priced_org).system_credits == 10


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
    assert ledger.balance(priced_org).system_credits == 300
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1


# ---------------------------------------------------------------------------
# A double "Continue to payment" reuses the open purchase; unpaid purchases expire


def start(actor, org, credit_count=400, **extra):
    return purchases.start_purchase(
        actor, org, credit_count=credit_count, account="system", payment_method="sandbox", **extra
    )


def purchase_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Purchase))


def age(purchase: Purchase, **delta) -> None:
    """Move the purchase back in time (as if started ``delta`` ago)."""
    db.session.execute(
        sa.update(Purchase)
        .where(Purchase.id == purchase.id)
        .values(created_at=utcnow() - timedelta(**delta))
    )
    commit()
    db.session.refresh(purchase)


def test_a_second_start_of_the_same_purchase_reuses_the_pending_one(priced_org):
    actor = owner_actor(priced_org)
    first = start(actor, priced_org, reuse_pending=True)
    commit()
    again = start(actor, priced_org, reuse_pending=True)
    commit()
    assert again.id == first.id and purchase_count() == 1
    # Another quantity, or a start without reuse (API, automatic top-up), is its own purchase.
    other = start(actor, priced_org, credit_count=401, reuse_pending=True)
    plain = start(actor, priced_org)
    commit()
    assert len({first.id, other.id, plain.id}) == 3


def test_a_paid_declined_or_old_purchase_is_never_reused(app, priced_org):
    actor = owner_actor(priced_org)
    paid = start(actor, priced_org, reuse_pending=True)
    purchases.pay(actor, paid, {"card_number": GOOD_CARD})
    commit()
    declined = start(actor, priced_org, reuse_pending=True)
    purchases.pay(actor, declined, {"card_number": DECLINED})
    commit()
    old = start(actor, priced_org, reuse_pending=True)
    commit()
    age(old, minutes=11)  # past the reuse window
    fresh = start(actor, priced_org, reuse_pending=True)
    commit()
    assert len({paid.id, declined.id, old.id, fresh.id}) == 4
    assert ledger.balance(priced_org).system_credits == 400


def test_another_person_does_not_continue_someone_elses_purchase(priced_org, create_member):
    admin = create_member(priced_org, role="admin")
    ada = member_actor(admin)
    first = start(owner_actor(priced_org), priced_org, reuse_pending=True)
    second = start(ada, priced_org, reuse_pending=True)
    commit()
    assert first.id != second.id


@pytest.mark.postgres_only
def test_two_starts_at_once_make_one_purchase(app, priced_org):
    actor = owner_actor(priced_org)
    org_id = priced_org.id
    db.session.rollback()

    def start_once(_):
        with app.app_context():
            try:
                org = db.session.get(Organization, org_id)
                purchase_id = start(actor, org, reuse_pending=True).id
                commit()
                return purchase_id
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = set(pool.map(start_once, range(6)))
    assert len(ids) == 1 and purchase_count() == 1


def test_pending_purchases_past_the_age_expire_once_and_are_never_credited(app, priced_org):
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 60
    actor = owner_actor(priced_org)
    stale, recent, paid = (start(actor, priced_org, credit_count=n) for n in (100, 200, 300))
    purchases.pay(actor, paid, {"card_number": GOOD_CARD})
    commit()
    age(stale, minutes=66)
    age(paid, minutes=66)
    age(recent, minutes=30)

    assert purchases.expire_pending_purchases() == 1
    commit()
    assert purchases.expire_pending_purchases() == 0  # a second run changes nothing
    for purchase in (stale, recent, paid):
        db.session.refresh(purchase)
    assert stale.status == PurchaseStatus.DECLINED and stale.decline_reason == purchases.EXPIRED
    assert purchases.is_expired(stale) and stale.completed_at is not None
    assert recent.status == PurchaseStatus.PENDING and not purchases.is_expired(recent)
    assert paid.status == PurchaseStatus.PAID and not purchases.is_expired(paid)
    entries = db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "purchase.expired")
    ).all()
    assert [(e.target_id, e.organization_id) for e in entries] == [(stale.id, priced_org.id)]

    # A late confirmation is refused before the card is charged; nothing is credited.
    with pytest.raises(purchases.PurchaseExpired):
        purchases.pay(actor, stale, {"card_number": GOOD_CARD})
    assert purchases.complete(actor, stale, "late").status == PurchaseStatus.DECLINED
    commit()
    assert ledger.balance(priced_org).system_credits == 300
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) == 1


def test_a_purchase_past_the_age_is_refused_before_the_job_marks_it(app, priced_org):
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 60
    actor = owner_actor(priced_org)
    purchase = start(actor, priced_org)
    commit()
    age(purchase, minutes=62)  # past the age, within the job's grace
    assert purchases.is_expired(purchase)
    with pytest.raises(purchases.PurchaseExpired):
        purchases.pay(actor, purchase, {"card_number": GOOD_CARD})
    assert purchases.expire_pending_purchases() == 0  # the grace: not marked yet
    assert purchases.expire_pending_purchases(now=utcnow() + timedelta(minutes=5)) == 1
    commit()
    assert ledger.balance(priced_org).system_credits == 0


# -- the same in the portal -----------------------------------------------------------------


def confirm(client, org, credit_count="250"):
    return client.post(
        f"/organizations/{org.id}/credits/purchase/confirm",
        data={"account": "system", "credits": credit_count, "payment_method": "sandbox"},
    )


def test_a_double_click_on_continue_to_payment_leaves_one_purchase(client, auth, shop):
    auth.login(shop.owner.user.email)
    first, second = confirm(client, shop.org), confirm(client, shop.org)
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]
    assert purchase_count() == 1
    assert (
        client.post(
            first.headers["Location"], data={"card_number": GOOD_CARD, "expiry": "12/30"}
        ).status_code
        == 302
    )
    # Bought again on purpose after paying: a new purchase.
    third = confirm(client, shop.org)
    assert third.headers["Location"] != first.headers["Location"] and purchase_count() == 2


def test_an_expired_purchase_page_offers_a_new_purchase_and_never_credits(app, client, auth, shop):
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 30
    auth.login(shop.owner.user.email)
    pay_url = confirm(client, shop.org).headers["Location"]
    purchase = db.session.scalar(sa.select(Purchase))
    age(purchase, minutes=40)
    purchases.expire_pending_purchases()
    commit()

    page = client.get(pay_url).get_data(as_text=True)
    assert 'data-state="expired"' in page
    assert "This purchase expired before it was paid." in page
    assert "Start a new purchase" in page and "Card number" not in page
    late = client.post(pay_url, data={"card_number": GOOD_CARD, "expiry": "12/30"})
    assert late.status_code == 200 and 'data-state="expired"' in late.get_data(as_text=True)
    assert ledger.balance(shop.org).system_credits == 0

    again = client.post(pay_url.replace("/pay", "/retry"))
    assert again.status_code == 302 and purchase.id not in again.headers["Location"]
    assert (
        client.post(
            again.headers["Location"], data={"card_number": GOOD_CARD, "expiry": "12/30"}
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert ledger.balance(shop.org).system_credits == 250


def test_recent_purchases_show_each_status_and_members_see_their_own(app, client, auth, shop):
    app.config["PURCHASE_PENDING_MAX_MINUTES"] = 30
    auth.login(shop.owner.user.email)
    expired_url = confirm(client, shop.org, "100").headers["Location"]
    age(db.session.scalar(sa.select(Purchase)), minutes=31)  # past the age, not yet marked
    paid_url = confirm(client, shop.org, "200").headers["Location"]
    client.post(paid_url, data={"card_number": GOOD_CARD, "expiry": "12/30"})
    declined_url = confirm(client, shop.org, "300").headers["Location"]
    client.post(declined_url, data={"card_number": DECLINED, "expiry": "12/30"})
    pending_url = confirm(client, shop.org, "400").headers["Location"]

    page = client.get(f"/organizations/{shop.org.id}/credits/purchase").get_data(as_text=True)
    statuses = dict(re.findall(r'data-purchase="(pur_\w+)" data-status="(\w+)"', page))
    ids = {url.split("/")[-2]: url for url in (expired_url, paid_url, declined_url, pending_url)}
    assert {ids[i]: s for i, s in statuses.items()} == {
        expired_url: "expired",
        paid_url: "paid",
        declined_url: "declined",
        pending_url: "pending",
    }
    assert "Expired" in page and "Continue payment" in page and "Receipt (PDF)" in page
    assert "A purchase not paid within 30 minutes expires" in page

    auth.logout()
    auth.login(shop.member.user.email)
    mine = client.get(f"/organizations/{shop.org.id}/credits/purchase").get_data(as_text=True)
    assert 'id="recent-purchases"' not in mine  # the owner's purchases are not theirs
