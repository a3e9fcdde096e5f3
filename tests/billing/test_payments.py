"""Payments of postpaid organizations: service, API, Payment section, deletion blocked by debt."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, payments, postpaid
from tenants.billing.final_invoice import issue_final_invoice
from tenants.core.errors import Forbidden, NotPostpaid, OutstandingDebt, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import AuditEntry, EntryType, Invoice, LedgerEntry, Payment
from tenants.organizations.operations import delete_organization, suspend_organization
from tests.billing.conftest import reload, use
from tests.conftest import PASSWORD, owner_of, staff_actor


@pytest.fixture
def owing(clock, create_postpaid):
    """A Madrid organization with an October invoice of 24.20 and 1.00 unbilled in November
    (1.21 with its 21 % tax)."""
    org = create_postpaid()
    use(org, 400, at=datetime(2026, 10, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    use(org, 20, at=datetime(2026, 11, 20, tzinfo=UTC))
    return org


def test_payment_settles_the_oldest_invoice_and_lowers_the_debt(
    owing, reseller, create_reseller_staff
):
    agent = create_reseller_staff(reseller)
    assert postpaid.organization_debt(owing) == Decimal("25.41")
    payment = payments.record_payment(staff_actor(reseller, agent), owing, "24.20", "bank 42")
    commit()
    invoice = db.session.scalar(select(Invoice).where(Invoice.organization_id == owing.id))
    assert invoice.status == "paid" and invoice.paid_at is not None
    assert postpaid.organization_debt(owing) == reload(owing).debt == Decimal("1.21")
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.type == EntryType.PAYMENT))
    assert (entry.amount, entry.credits, entry.reference) == (Decimal("24.20"), 0, "bank 42")
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.recorded"))
    assert audit.target_id == payment.id and audit.actor_user_id == agent.id


def test_a_partial_payment_leaves_the_invoice_open(owing):
    payments.record_payment(SYSTEM, owing, Decimal("20"))
    commit()
    invoice = db.session.scalar(select(Invoice).where(Invoice.organization_id == owing.id))
    assert invoice.status == "open"
    assert postpaid.organization_debt(owing) == Decimal("5.41")


@pytest.mark.parametrize(
    "amount", ["25.42", "0", "-1", "abc", "1.001", 1.5, None, "NaN", "Infinity"]
)
def test_bad_or_excessive_amounts_are_refused(owing, amount):
    with pytest.raises(ValidationFailed) as refused:
        payments.record_payment(SYSTEM, owing, amount)
    rollback()
    assert "amount" in refused.value.fields
    assert postpaid.organization_debt(owing) == Decimal("25.41")


def test_only_reseller_staff_record_payments(owing):
    owner = owner_of(owing)
    from tenants.access.actors import Actor

    actor = Actor(
        user_id=owner.user_id, organization_id=owing.id, member_id=owner.id, member_role=owner.role
    )
    with pytest.raises(Forbidden):
        payments.record_payment(actor, owing, "1.00")
    rollback()


def test_prepaid_organizations_take_no_payments(clock, create_organization, reseller):
    org = create_organization(reseller=reseller)
    with pytest.raises(NotPostpaid):
        payments.record_payment(SYSTEM, org, "1.00")
    rollback()


def test_debt_blocks_deletion_until_paid(owing):
    with pytest.raises(OutstandingDebt) as refused:
        delete_organization(SYSTEM, owing)
    rollback()
    assert refused.value.code == "outstanding_debt" and refused.value.status == 409
    payments.record_payment(SYSTEM, owing, "25.41")  # the invoice and November so far
    commit()
    # November's usage is paid ahead but not invoiced: the final invoice first (close-out).
    with pytest.raises(OutstandingDebt):
        delete_organization(SYSTEM, owing)
    rollback()
    suspend_organization(SYSTEM, owing, "closing")
    issue_final_invoice(SYSTEM, owing)
    commit()
    delete_organization(SYSTEM, owing)
    commit()
    assert reload(owing).status == "deleted"
    # Its invoices and charges stay for accounting.
    assert db.session.scalar(select(Invoice).where(Invoice.organization_id == owing.id))


# -- API ------------------------------------------------------------------------------------


@pytest.fixture
def api_key(app):
    def _create(reseller=None, organization=None):
        from tenants.api_keys.operations import create_api_key

        _key, secret = create_api_key(
            SYSTEM, reseller=reseller, organization=organization, name="billing test"
        )
        commit()
        return secret

    return _create


def post_json(client, path, key, body):
    return client.post(
        "/api/v1" + path,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


def test_api_reseller_key_records_a_payment(client, owing, reseller, api_key):
    key = api_key(reseller=reseller)
    response = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": "24.20"})
    assert response.status_code == 201, response.json
    assert response.json["amount"] == "24.20" and response.json["debt"] == "1.21"
    assert (response.json["currency"], response.json["status"]) == ("EUR", "recorded")
    assert response.json["id"] == db.session.scalar(select(Payment.id))
    again = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": "99.00"})
    assert again.status_code == 422 and "amount" in again.json["error"]["fields"]
    bad = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": 5, "x": 1})
    assert bad.status_code == 422


def test_api_organization_key_cannot_record_payments(client, owing, reseller, api_key):
    key = api_key(reseller=reseller, organization=owing)
    response = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": "1.00"})
    assert response.status_code == 403
    assert db.session.scalar(select(Payment)) is None


def test_api_other_resellers_organization_is_404(client, owing, create_reseller, api_key):
    key = api_key(reseller=create_reseller())
    response = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": "1.00"})
    assert response.status_code == 404


# -- the Payment section --------------------------------------------------------------------


def test_reseller_staff_see_the_debt_and_record_a_payment(
    client, auth, owing, reseller, create_reseller_staff
):
    agent = create_reseller_staff(reseller)
    auth.login(agent.email, PASSWORD)
    page = client.get(f"/organizations/{owing.id}/payment")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "25.41" in html and "Record payment" in html and "Open invoices" in html
    refused = client.post(f"/organizations/{owing.id}/payments", data={"amount": "99"})
    assert refused.status_code == 422
    assert "more than the organization owes" in refused.get_data(as_text=True)
    done = client.post(
        f"/organizations/{owing.id}/payments", data={"amount": "24.20", "reference": "TRF-1"}
    )
    assert done.status_code == 303
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "TRF-1" in html and "No open invoices." in html
    assert postpaid.organization_debt(owing) == Decimal("1.21")


def test_org_admins_see_the_section_but_cannot_record(client, auth, owing):
    owner = owner_of(owing)
    auth.login(owner.user.email, PASSWORD)
    page = client.get(f"/organizations/{owing.id}/payment")
    assert page.status_code == 200
    assert "Record payment" not in page.get_data(as_text=True)
    refused = client.post(f"/organizations/{owing.id}/payments", data={"amount": "1"})
    assert refused.status_code == 403


def test_the_payment_form_needs_csrf(app, client, auth, owing, reseller, create_reseller_staff):
    agent = create_reseller_staff(reseller)
    auth.login(agent.email, PASSWORD)
    app.config["WTF_CSRF_ENABLED"] = True
    refused = client.post(f"/organizations/{owing.id}/payments", data={"amount": "1.00"})
    assert refused.status_code == 400
    assert db.session.scalar(select(Payment)) is None


def test_platform_admin_sees_the_billing_runs(client, auth, owing, create_platform_staff):
    admin = create_platform_staff()
    auth.login(admin.email, PASSWORD)
    html = client.get("/platform/billing-runs").get_data(as_text=True)
    assert "2026-10" in html and "Monthly invoice runs" in html
    assert "/platform/billing-runs" in client.get("/platform/").get_data(as_text=True)


def test_the_org_owner_finds_the_monthly_invoice_and_downloads_its_pdf(client, auth, owing):
    import io

    from pypdf import PdfReader

    owner = owner_of(owing)
    auth.login(owner.user.email, PASSWORD)
    invoice = db.session.scalar(select(Invoice).where(Invoice.organization_id == owing.id))
    listing = client.get(f"/organizations/{owing.id}/invoices").get_data(as_text=True)
    assert invoice.number in listing
    pdf = client.get(f"/organizations/{owing.id}/credits/receipts/{invoice.id}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.data)).pages[0].extract_text()
    assert invoice.number in text and "24.20" in text


def test_the_payment_form_reads_amounts_in_the_readers_locale(
    client, auth, owing, reseller, create_reseller_staff
):
    """Spanish "1.500,50" is 1,500.50 (refused here only because it is more than owed), "24,20"
    is 24.20; English "0,5" is refused, not guessed. Typed amounts are reviewed first; the
    confirmation records the amount it showed."""
    agent = create_reseller_staff(reseller)
    auth.login(agent.email, PASSWORD)
    agent.language = "es"
    db.session.commit()
    review = f"/organizations/{owing.id}/payments/review"
    too_much = client.post(review, data={"amount": "1.500,50"})
    assert too_much.status_code == 422
    assert "Es más de lo que debe la organización" in too_much.get_data(as_text=True)
    shown = client.post(review, data={"amount": "24,20"})
    assert shown.status_code == 200 and "24,20" in shown.get_data(as_text=True)
    assert 'name="amount" value="24.20"' in shown.get_data(as_text=True)
    done = client.post(f"/organizations/{owing.id}/payments", data={"amount": "24.20"})
    assert done.status_code == 303
    assert postpaid.organization_debt(owing) == Decimal("1.21")
    agent.language = "en"
    db.session.commit()
    guessed = client.post(review, data={"amount": "0,5"})
    assert guessed.status_code == 422
    assert "Write the amount like 1,234.56." in guessed.get_data(as_text=True)
    assert len(db.session.scalars(select(Payment)).all()) == 1
