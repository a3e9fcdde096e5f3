"""Voiding a payment of a postpaid organization: the service, the API and the Payment section.
A void reverses exactly what the payment did: what it paid ahead is taken back first, the rest
is owed on invoices again and the invoices no longer covered are open again, newest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, payments, postpaid
from tenants.billing.final_invoice import issue_final_invoice
from tenants.core.errors import (
    Forbidden,
    NotFound,
    OrganizationClosed,
    PaymentAlreadyVoid,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AuditEntry,
    EntryType,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    Payment,
    PaymentStatus,
    PostpaidAccount,
)
from tenants.organizations.operations import delete_organization, suspend_organization
from tests.billing.conftest import reload, use
from tests.conftest import PASSWORD, owner_actor, staff_actor


@pytest.fixture
def owing(clock, create_postpaid):
    """A Madrid organization with an October invoice of 24.20 and 1.00 unbilled in November
    (1.21 with its 21 % tax): it owes 25.41."""
    org = create_postpaid()
    use(org, 400, at=datetime(2026, 10, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    use(org, 20, at=datetime(2026, 11, 20, tzinfo=UTC))
    return org


@pytest.fixture
def agent(reseller, create_reseller_staff):
    return create_reseller_staff(reseller, name="Agent Smith")


def account(org) -> PostpaidAccount:
    db.session.expire_all()
    return db.session.get(PostpaidAccount, org.id)


def invoices(org) -> list[Invoice]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Invoice).where(Invoice.organization_id == org.id).order_by(Invoice.period)
        )
    )


def open_total(org) -> Decimal:
    return sum((i.total for i in invoices(org) if i.status == InvoiceStatus.OPEN), Decimal(0))


def pay(org, amount: str, reference: str | None = None) -> Payment:
    payment = payments.record_payment(SYSTEM, org, amount, reference)
    commit()
    return payment


def void(actor, org, payment, reason="The transfer bounced") -> Payment:
    voided = payments.void_payment(actor, org, payment.id, reason)
    commit()
    return voided


# -- the service ----------------------------------------------------------------------------


def test_void_after_settling_an_invoice_reopens_it_and_restores_the_debt(owing, reseller, agent):
    payment = pay(owing, "24.20", "bank 42")
    assert [i.status for i in invoices(owing)] == ["paid"]
    assert postpaid.organization_debt(owing) == Decimal("1.21")

    voided = void(staff_actor(reseller, agent), owing, payment)

    assert voided.status == PaymentStatus.VOID and voided.void_reason == "The transfer bounced"
    assert voided.voided_at is not None and voided.voided_by_user_id == agent.id
    [invoice] = invoices(owing)
    assert invoice.status == InvoiceStatus.OPEN and invoice.paid_at is None
    assert postpaid.organization_debt(owing) == reload(owing).debt == Decimal("25.41")
    row = account(owing)
    assert (row.invoiced_unpaid, row.paid_ahead) == (Decimal("24.20"), Decimal("0"))
    assert open_total(owing) == row.invoiced_unpaid
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.type == EntryType.PAYMENT_VOID))
    assert (entry.amount, entry.credits, entry.reference) == (Decimal("-24.20"), 0, "bank 42")
    assert entry.actor_user_id == agent.id
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "payment.voided"))
    assert audit.target_id == payment.id and audit.actor_user_id == agent.id
    assert audit.changes["reason"] == [None, "The transfer bounced"]
    assert audit.changes["status"] == ["recorded", "void"]
    assert audit.changes["debt"] == ["1.21", "25.41"]
    assert audit.changes["amount"] == ["24.20", None]
    assert audit.changes["invoices_reopened"] == [None, [invoice.number]]


def test_void_of_a_payment_partly_paid_ahead_takes_back_the_credit_first(owing):
    payment = pay(owing, "25.41")  # the invoice, and 1.21 ahead of the next one
    assert (account(owing).paid_ahead, postpaid.organization_debt(owing)) == (
        Decimal("1.21"),
        Decimal("0"),
    )
    void(SYSTEM, owing, payment)
    row = account(owing)
    assert (row.paid_ahead, row.invoiced_unpaid) == (Decimal("0"), Decimal("24.20"))
    assert postpaid.organization_debt(owing) == reload(owing).debt == Decimal("25.41")
    assert [i.status for i in invoices(owing)] == ["open"]


def test_void_of_a_payment_only_paid_ahead_leaves_the_settled_invoice_paid(owing):
    pay(owing, "24.20")
    ahead = pay(owing, "1.00")
    assert account(owing).paid_ahead == Decimal("1.00")
    void(SYSTEM, owing, ahead)
    row = account(owing)
    assert (row.paid_ahead, row.invoiced_unpaid) == (Decimal("0"), Decimal("0"))
    assert postpaid.organization_debt(owing) == reload(owing).debt == Decimal("1.21")
    assert [i.status for i in invoices(owing)] == ["paid"]
    assert not db.session.scalar(
        select(AuditEntry).where(AuditEntry.action == "payment.voided")
    ).changes["invoices_reopened"][1]


def test_void_reopens_the_newest_paid_invoices_first(clock, create_postpaid):
    """September (12.10) and October (24.20) invoices, paid by two payments. Voiding the
    first leaves 24.20 received, which pays the older invoice whole, the newer in part: the
    newer is open again, and the open invoices cover what is unpaid."""
    org = create_postpaid()
    clock.now = datetime(2026, 10, 5, 12, tzinfo=UTC)
    use(org, 200, at=datetime(2026, 9, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-09", now=clock.now)
    clock.now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    use(org, 400, at=datetime(2026, 10, 25, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    september, october = invoices(org)
    assert (september.total, october.total) == (Decimal("12.10"), Decimal("24.20"))
    first = pay(org, "12.10")
    pay(org, "24.20")
    assert [i.status for i in invoices(org)] == ["paid", "paid"]

    void(SYSTEM, org, first)

    assert [i.status for i in invoices(org)] == ["paid", "open"]
    unpaid = account(org).invoiced_unpaid
    assert unpaid == Decimal("12.10") == postpaid.organization_debt(org)
    assert open_total(org) >= unpaid > open_total(org) - october.total


def test_a_void_payment_cannot_be_voided_again(owing):
    payment = pay(owing, "10.00")
    void(SYSTEM, owing, payment)
    with pytest.raises(PaymentAlreadyVoid) as refused:
        payments.void_payment(SYSTEM, owing, payment, "again")
    rollback()
    assert (refused.value.status, refused.value.code) == (409, "payment_already_void")
    assert postpaid.organization_debt(owing) == Decimal("25.41")
    assert (
        db.session.scalar(select(func.count()).where(LedgerEntry.type == EntryType.PAYMENT_VOID))
        == 1
    )


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 501])
def test_a_void_needs_a_reason(owing, reason):
    payment = pay(owing, "10.00")
    with pytest.raises(ValidationFailed) as refused:
        payments.void_payment(SYSTEM, owing, payment, reason)
    rollback()
    assert refused.value.status == 422 and "reason" in refused.value.fields
    assert reload(payment).status == PaymentStatus.RECORDED


def test_only_reseller_staff_void_payments(owing):
    payment = pay(owing, "10.00")
    with pytest.raises(Forbidden):
        payments.void_payment(owner_actor(owing), owing, payment, "mine")
    rollback()
    assert reload(payment).status == PaymentStatus.RECORDED


def test_another_organizations_payment_is_not_found(owing, create_postpaid):
    other = create_postpaid()
    use(other, 100)
    payment = pay(other, "1.00")
    with pytest.raises(NotFound):
        payments.void_payment(SYSTEM, owing, payment.id, "wrong org")
    rollback()
    assert reload(payment).status == PaymentStatus.RECORDED


def test_a_deleted_organizations_payment_cannot_be_voided(owing):
    # The guided close-out: suspend, invoice what is unbilled, pay everything, delete.
    suspend_organization(SYSTEM, owing, "closing")
    commit()
    issue_final_invoice(SYSTEM, owing)
    commit()
    payment = pay(owing, "25.41")
    delete_organization(SYSTEM, owing)
    commit()
    with pytest.raises(OrganizationClosed):
        payments.void_payment(SYSTEM, owing, payment, "too late")
    rollback()
    assert reload(payment).status == PaymentStatus.RECORDED


# -- API ------------------------------------------------------------------------------------


def post_json(client, path, key, body):
    return client.post(
        "/api/v1" + path,
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )


@pytest.fixture
def api_key(app):
    def _create(reseller=None, organization=None):
        from tenants.api_keys.operations import create_api_key

        _key, secret = create_api_key(
            SYSTEM, reseller=reseller, organization=organization, name="void test"
        )
        commit()
        return secret

    return _create


def test_api_voids_a_payment_with_a_reason(client, owing, reseller, api_key):
    key = api_key(reseller=reseller)
    created = post_json(client, f"/organizations/{owing.id}/payments", key, {"amount": "24.20"})
    assert created.status_code == 201
    assert {"id", "amount", "currency", "status"} <= set(created.json)
    path = f"/organizations/{owing.id}/payments/{created.json['id']}/void"
    empty = post_json(client, path, key, {"reason": " "})
    assert empty.status_code == 422 and "reason" in empty.json["error"]["fields"]
    missing = post_json(client, path, key, {})
    assert missing.status_code == 422 and "reason" in missing.json["error"]["fields"]
    done = post_json(client, path, key, {"reason": "Bounced"})
    assert done.status_code == 200, done.json
    body = done.json
    assert (body["id"], body["amount"], body["currency"]) == (created.json["id"], "24.20", "EUR")
    assert (body["status"], body["void_reason"], body["debt"]) == ("void", "Bounced", "25.41")
    assert body["voided_at"].endswith("Z")
    again = post_json(client, path, key, {"reason": "Bounced"})
    assert again.status_code == 409
    assert again.json["error"]["code"] == "payment_already_void"
    movements = client.get(
        f"/api/v1/organizations/{owing.id}/movements",
        query_string={"type": "payment_void"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert movements.status_code == 200, movements.json
    [entry] = movements.json["data"]
    assert (entry["type"], entry["amount"]) == ("payment_void", "-24.20")


def test_api_organization_key_cannot_void(client, owing, reseller, api_key):
    payment = pay(owing, "10.00")
    key = api_key(reseller=reseller, organization=owing)
    path = f"/organizations/{owing.id}/payments/{payment.id}/void"
    response = post_json(client, path, key, {"reason": "mine"})
    assert response.status_code == 403
    assert reload(payment).status == PaymentStatus.RECORDED


def test_api_another_tenants_payment_is_404(client, owing, reseller, create_reseller, api_key):
    payment = pay(owing, "10.00")
    stranger = api_key(reseller=create_reseller())
    path = f"/organizations/{owing.id}/payments/{payment.id}/void"
    assert post_json(client, path, stranger, {"reason": "x"}).status_code == 404
    assert post_json(client, path, stranger, {"reason": ""}).status_code == 404
    own = api_key(reseller=reseller)
    unknown = f"/organizations/{owing.id}/payments/pay_01unknown/void"
    assert post_json(client, unknown, own, {"reason": "x"}).status_code == 404
    assert reload(payment).status == PaymentStatus.RECORDED


def test_api_another_organizations_payment_is_404(
    client, owing, reseller, create_postpaid, api_key
):
    other = create_postpaid()
    use(other, 100)
    payment = pay(other, "1.00")
    key = api_key(reseller=reseller)
    path = f"/organizations/{owing.id}/payments/{payment.id}/void"
    assert post_json(client, path, key, {"reason": "x"}).status_code == 404
    assert post_json(client, path, key, {"reason": ""}).status_code == 404


# -- the Payment section --------------------------------------------------------------------


def test_staff_void_a_payment_from_the_payments_list(client, auth, owing, agent):
    payment = pay(owing, "24.20", "TRF-9")
    auth.login(agent.email, PASSWORD)
    html = client.get(f"/organizations/{owing.id}/payment").get_data(as_text=True)
    assert f'/organizations/{owing.id}/payments/{payment.id}/void"' in html
    assert "Recorded" in html and "Void payment" in html
    url = f"/organizations/{owing.id}/payments/{payment.id}/void"
    refused = client.post(url, data={"reason": "  "})
    assert refused.status_code == 422
    assert "This field is required." in refused.get_data(as_text=True)
    assert reload(payment).status == PaymentStatus.RECORDED
    done = client.post(url, data={"reason": "Cheque bounced"})
    assert done.status_code == 303
    html = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "The payment of €24.20 was voided." in html
    assert "Voided" in html and "Cheque bounced" in html
    assert url + '"' not in html  # no second void offered
    assert postpaid.organization_debt(owing) == Decimal("25.41")
    again = client.post(url, data={"reason": "Twice"})
    assert again.status_code == 409
    assert "This payment is already void." in again.get_data(as_text=True)


def test_org_admins_see_payment_statuses_but_cannot_void(client, auth, owing):
    from tests.conftest import owner_of

    payment = pay(owing, "10.00")
    auth.login(owner_of(owing).user.email, PASSWORD)
    html = client.get(f"/organizations/{owing.id}/payment").get_data(as_text=True)
    assert "Recorded" in html and "Void payment" not in html
    url = f"/organizations/{owing.id}/payments/{payment.id}/void"
    assert client.post(url, data={"reason": "mine"}).status_code == 403


def test_the_void_form_needs_csrf(app, client, auth, owing, agent):
    payment = pay(owing, "10.00")
    auth.login(agent.email, PASSWORD)
    app.config["WTF_CSRF_ENABLED"] = True
    url = f"/organizations/{owing.id}/payments/{payment.id}/void"
    assert client.post(url, data={"reason": "x"}).status_code == 400
    assert reload(payment).status == PaymentStatus.RECORDED


def test_the_void_reads_in_spanish_in_the_audit_log_and_the_ledger(
    app, client, auth, owing, reseller, agent
):
    from tenants.credits.movements import entry_type_label

    void(staff_actor(reseller, agent), owing, pay(owing, "10.00"), "Devuelto por el banco")
    agent.language = "es"
    db.session.commit()
    auth.login(agent.email, PASSWORD)
    html = client.get(f"/organizations/{owing.id}/audit").get_data(as_text=True)
    assert "Pago anulado" in html and "Devuelto por el banco" in html
    assert "Pago registrado" in html and ">payment.voided<" not in html
    payment_page = client.get(f"/organizations/{owing.id}/payment").get_data(as_text=True)
    assert "Anulado" in payment_page
    with app.test_request_context(), force_locale("es"):
        assert entry_type_label(EntryType.PAYMENT_VOID) == "Pago anulado"
    with app.test_request_context(), force_locale("en"):
        assert entry_type_label("payment_void") == "Payment voided"


# -- concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres_only
def test_voids_racing_each_other_and_a_payment_reverse_it_once(app, owing):
    """Eight voids of one payment race a new payment of 1.00: one void wins, the others are
    told it is already void, and the debt, the open invoices and the ledger agree."""
    from tests.billing.test_concurrency import in_threads

    org_id = owing.id
    payment_id = pay(owing, "24.20").id
    outcomes: list[str] = []

    def work(index):
        from tenants.models import Organization

        org = db.session.get(Organization, org_id)
        try:
            if index == 0:
                payments.record_payment(SYSTEM, org, "1.00")
                outcomes.append("paid")
            else:
                payments.void_payment(SYSTEM, org, payment_id, f"race {index}")
                outcomes.append("voided")
            commit()
        except PaymentAlreadyVoid:
            rollback()
            outcomes.append("already void")

    assert in_threads(app, 9, work) == []
    assert sorted(outcomes) == ["already void"] * 7 + ["paid", "voided"]
    assert postpaid.organization_debt(owing) == reload(owing).debt == Decimal("24.41")
    # Whichever came first: 23.20 of the invoice owed, nothing ahead, the invoice open.
    row = account(owing)
    assert (row.invoiced_unpaid, row.paid_ahead) == (Decimal("23.20"), Decimal("0"))
    assert [i.status for i in invoices(owing)] == ["open"]
    assert (
        db.session.scalar(select(func.count()).where(LedgerEntry.type == EntryType.PAYMENT_VOID))
        == 1
    )
