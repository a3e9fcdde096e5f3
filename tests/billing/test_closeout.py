"""Closing a postpaid organization: the final invoice, deletion only once nothing is held,
owed, unbilled or paid ahead, and a deleted organization never invoiced again (issue 13)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, payments, postpaid
from tenants.billing.final_invoice import issue_final_invoice
from tenants.billing.summary import postpaid_position
from tenants.core.errors import (
    Forbidden,
    NothingToInvoice,
    NotPostpaid,
    OrganizationActive,
    OutstandingDebt,
    PeriodInvoiced,
)
from tenants.core.extensions import db
from tenants.invoices.documents import invoice_lines
from tenants.jobs.outbox import commit, rollback
from tenants.models import (
    AuditEntry,
    Invoice,
    InvoiceKind,
    InvoiceStatus,
    Organization,
    OrganizationStatus,
    PostpaidAccount,
    QueuedJob,
)
from tenants.organizations.operations import (
    delete_organization,
    reactivate_organization,
    suspend_organization,
)
from tests.billing.conftest import reload, use
from tests.conftest import owner_actor

NOVEMBER_20 = datetime(2026, 11, 20, 10, tzinfo=UTC)
DECEMBER_1 = datetime(2026, 12, 1, 12, tzinfo=UTC)


def invoices_of(org) -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .where(Invoice.organization_id == org.id, Invoice.kind == InvoiceKind.INVOICE)
            .order_by(Invoice.sequence)
            .execution_options(populate_existing=True)
        )
    )


def open_invoices_of_deleted_organizations() -> list[Invoice]:
    return list(
        db.session.scalars(
            select(Invoice)
            .join(Organization, Organization.id == Invoice.organization_id)
            .where(
                Organization.status == OrganizationStatus.DELETED,
                Invoice.status == InvoiceStatus.OPEN,
            )
        )
    )


def close(org) -> Invoice:
    suspend_organization(SYSTEM, org, "closing the account")
    invoice = issue_final_invoice(SYSTEM, org)
    commit()
    return invoice


def test_the_bugs_story_ends_with_nothing_owed_by_nobody(clock, create_postpaid):
    """100 SMS → €5.00 and €1.05 of tax; a €5.00 payment no longer makes the debt zero;
    the final invoice takes the €1.05 too; once paid, deleted; the month's run invoices
    nothing more, and no invoice of a deleted organization is left open."""
    org = create_postpaid()
    use(org, 100, at=NOVEMBER_20)
    assert postpaid.organization_debt(org) == Decimal("6.05")
    payments.record_payment(SYSTEM, org, "5.00")
    commit()
    assert postpaid.organization_debt(org) == Decimal("1.05")
    with pytest.raises(OutstandingDebt) as refused:
        delete_organization(SYSTEM, org)
    rollback()
    assert "final invoice" in str(refused.value)

    invoice = close(org)
    assert (invoice.period, invoice.subtotal, invoice.tax, invoice.total) == (
        "2026-11",
        Decimal("5.00"),
        Decimal("1.05"),
        Decimal("6.05"),
    )
    assert invoice.status == InvoiceStatus.OPEN  # the €5.00 paid ahead settled part of it
    position = postpaid_position(org)
    assert (position.unbilled, position.unbilled_tax, position.credit_on_account) == (0, 0, 0)
    assert position.open_invoices == Decimal("1.05") == reload(org).debt
    with pytest.raises(OutstandingDebt) as refused:
        delete_organization(SYSTEM, org)
    rollback()
    assert "open invoices" in str(refused.value)

    payments.record_payment(SYSTEM, org, "1.05")
    commit()
    assert reload(invoice).status == InvoiceStatus.PAID
    delete_organization(SYSTEM, org)
    commit()
    assert reload(org).status == OrganizationStatus.DELETED

    clock.now = DECEMBER_1
    monthly_run.run_monthly("2026-11", now=clock.now)
    monthly_run.run_monthly_catch_up(now=clock.now)
    assert [i.id for i in invoices_of(org)] == [invoice.id]
    assert open_invoices_of_deleted_organizations() == []


def test_paying_ahead_of_unbilled_usage_does_not_allow_deleting(clock, create_postpaid):
    """Before, a debt of zero was enough: the deleted organization was invoiced later."""
    org = create_postpaid()
    use(org, 100, at=NOVEMBER_20)
    payments.record_payment(SYSTEM, org, "6.05")
    commit()
    assert postpaid.organization_debt(org) == 0
    with pytest.raises(OutstandingDebt) as refused:
        delete_organization(SYSTEM, org)
    rollback()
    assert refused.value.code == "outstanding_debt" and "€6.05" in str(refused.value)
    invoice = close(org)
    assert invoice.total == Decimal("6.05") and invoice.status == InvoiceStatus.PAID
    delete_organization(SYSTEM, org)
    commit()
    assert open_invoices_of_deleted_organizations() == []


def test_a_credit_on_account_left_blocks_deleting(clock, create_postpaid):
    org = create_postpaid()
    # What is left of a payment once every invoice is settled (e.g. after rounding).
    postpaid.ensure_account(org)
    db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(paid_ahead=Decimal("0.01"))
    )
    commit()
    position = postpaid_position(org)
    assert position.credit_on_account == Decimal("0.01") and position.debt == 0
    with pytest.raises(OutstandingDebt) as refused:
        delete_organization(SYSTEM, org)
    rollback()
    assert "credit on account of €0.01" in str(refused.value)


def test_a_deleted_organization_is_never_invoiced_again(clock, create_postpaid):
    """One deleted with usage left (as the old rule allowed) is skipped by the run, the
    catch-up and a single invoice alike."""
    org, other = create_postpaid(), create_postpaid()
    for each in (org, other):
        use(each, 40, at=datetime(2026, 10, 26, tzinfo=UTC))
    db.session.execute(
        update(Organization)
        .where(Organization.id == org.id)
        .values(status=OrganizationStatus.DELETED, deleted_at=clock.now)
    )
    commit()
    assert monthly_run._candidates("2026-10") == [other.id]
    result = monthly_run.run_monthly("2026-10", now=clock.now)
    monthly_run.run_monthly_catch_up(now=clock.now)
    assert monthly_run.issue_monthly_invoice(reload(org), "2026-10", now=clock.now) is None
    commit()
    assert result.invoiced == 1 and len(invoices_of(other)) == 1
    assert invoices_of(org) == [] and open_invoices_of_deleted_organizations() == []


def test_the_final_invoice_is_numbered_emailed_and_audited_like_a_monthly_one(
    clock, create_postpaid
):
    org = create_postpaid()
    org.billing_email = "accounts@example.com"
    commit()
    use(org, 40, at=datetime(2026, 10, 26, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    use(org, 10, at=NOVEMBER_20)
    use(org, 20, at=datetime(2026, 11, 27, 11, tzinfo=UTC))
    invoice = close(org)
    october, final = invoices_of(org)
    assert final.id == invoice.id and final.sequence == october.sequence + 1
    assert final.period == "2026-11" and final.issued_at == clock.now
    assert [line.quantity for line in invoice_lines(final)] == [10, 20]
    assert final.total == Decimal("1.82")  # 30 x 0.05 = 1.50 + 21 %
    jobs = db.session.scalars(select(QueuedJob).where(QueuedJob.name == "send_invoice_email"))
    assert {job.kwargs["invoice_id"] for job in jobs} == {october.id, final.id}
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "invoice.final_issued"))
    assert audit.target_id == final.id and audit.changes["number"] == [None, final.number]
    assert postpaid_position(org).unbilled_credits == 0


def test_a_month_still_open_gets_its_own_invoice_first(clock, create_postpaid):
    org = create_postpaid()
    use(org, 40, at=datetime(2026, 10, 26, tzinfo=UTC))  # October, not yet run
    use(org, 10, at=NOVEMBER_20)
    invoice = close(org)
    october, november = invoices_of(org)
    assert (october.period, november.period) == ("2026-10", "2026-11")
    assert invoice.id == november.id and november.sequence == october.sequence + 1
    assert (october.subtotal, november.subtotal) == (Decimal("2.00"), Decimal("0.50"))


def test_usage_after_a_reactivation_goes_on_the_next_month(clock, create_postpaid):
    org = create_postpaid()
    use(org, 10, at=NOVEMBER_20)
    close(org)
    reactivate_organization(SYSTEM, org)
    commit()
    with pytest.raises(PeriodInvoiced):  # before the final invoice: already invoiced
        use(org, 1, at=datetime(2026, 11, 27, 11, tzinfo=UTC))
    rollback()
    clock.now = datetime(2026, 11, 28, tzinfo=UTC)
    use(org, 7, at=clock.now)  # later in November
    clock.now = DECEMBER_1
    assert monthly_run.run_monthly("2026-11", now=clock.now).invoiced == 0  # closed
    use(org, 5, at=clock.now)
    clock.now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    monthly_run.run_monthly("2026-12", now=clock.now)
    _final, december = invoices_of(org)
    assert december.period == "2026-12"
    assert [line.quantity for line in invoice_lines(december)] == [7, 5]


def test_a_second_final_invoice_in_the_same_month_takes_the_next(clock, create_postpaid):
    org = create_postpaid()
    use(org, 10, at=NOVEMBER_20)
    first = close(org)
    reactivate_organization(SYSTEM, org)
    commit()
    clock.now = datetime(2026, 11, 28, tzinfo=UTC)
    use(org, 3, at=clock.now)
    second = close(org)
    assert (first.period, second.period) == ("2026-11", "2026-12")
    assert [line.quantity for line in invoice_lines(second)] == [3]


def test_the_final_invoice_needs_a_suspended_postpaid_organization_with_usage(
    clock, create_postpaid, create_organization, reseller
):
    org = create_postpaid()
    use(org, 10, at=NOVEMBER_20)
    with pytest.raises(OrganizationActive) as refused:
        issue_final_invoice(SYSTEM, org)
    rollback()
    assert refused.value.code == "organization_active" and refused.value.status == 409
    suspend_organization(SYSTEM, org, "closing")
    commit()
    with pytest.raises(Forbidden):
        issue_final_invoice(owner_actor(org), org)
    rollback()
    idle = create_postpaid()
    suspend_organization(SYSTEM, idle, "closing")
    commit()
    with pytest.raises(NothingToInvoice) as refused:
        issue_final_invoice(SYSTEM, idle)
    rollback()
    assert refused.value.code == "nothing_to_invoice" and refused.value.status == 409
    prepaid = create_organization(reseller=reseller)
    with pytest.raises(NotPostpaid):
        issue_final_invoice(SYSTEM, prepaid)
    rollback()
    assert invoices_of(org) == [] and invoices_of(idle) == []
    issue_final_invoice(SYSTEM, org)
    commit()
    with pytest.raises(NothingToInvoice):  # all of it invoiced
        issue_final_invoice(SYSTEM, org)
    rollback()
