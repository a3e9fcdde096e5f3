"""Issue 5: reseller staff record a payment on a postpaid organization that owes money, and
the debt shown drops; an admin of the organization downloads the invoice PDF — in English
and in Spanish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tenants.access.actors import SYSTEM
from tenants.billing import monthly_run, postpaid
from tenants.billing.usage import record_usage
from tenants.jobs.outbox import commit
from tests.browser.journeys import LANGUAGES, download, log_in, log_out

pytestmark = pytest.mark.browser


def last_month(timezone: str) -> tuple[datetime, str]:
    """A moment of the previous month in ``timezone`` (within the 35 days late usage is
    accepted), and that month as an invoice period ("2026-10")."""
    zone = ZoneInfo(timezone)
    month_start = datetime.now(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    moment = month_start - timedelta(hours=12)
    return moment.astimezone(UTC), moment.strftime("%Y-%m")


@pytest.fixture
def owing(create_priced_reseller, create_reseller_staff, create_organization, create_member):
    """A postpaid Madrid organization (€0.05 an SMS, 21 % tax, limit €1,000) with last
    month's invoice of €24.20 (400 SMS) open and €1.00 (20 SMS) unbilled this month (€1.21
    with its tax)."""
    reseller = create_priced_reseller(name="Alpha Telecom")
    org = create_organization(
        reseller, name="Acme Ibérica SL", country="ES", pricing_model="postpaid"
    )
    org.credit_limit = Decimal("1000")
    commit()
    moment, period = last_month(org.timezone)
    record_usage(SYSTEM, org, credits=400, reference="campaign-october", occurred_at=moment)
    commit()
    invoice = monthly_run.issue_monthly_invoice(org, period)
    commit()
    record_usage(SYSTEM, org, credits=20, reference="campaign-now")
    commit()
    assert postpaid.organization_debt(org) == Decimal("25.41")
    agent = create_reseller_staff(reseller, name="Agent Smith")
    admin = create_member(org, role="admin", name="Ada Admin")
    return org, invoice, agent, admin


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_record_a_payment_and_an_admin_downloads_the_invoice(
    live_server, page, owing, language
):
    org, invoice, agent, admin = owing
    org_name, invoice_number = org.name, invoice.number
    agent_email, agent_name, admin_email = agent.email, agent.name, admin.user.email
    commit()

    # Reseller staff: Customer app → the organization → Payment.
    t = log_in(page, live_server, agent_email, language)
    page.get_by_role("link", name=t("Customer app"), exact=True).click()
    row = page.get_by_role("row").filter(has_text=org_name)
    expect(row.locator('[data-field="balance"]')).to_contain_text(t.money("25.41"))
    row.get_by_role("link", name=t("View"), exact=True).click()
    expect(page.get_by_role("heading", name=org_name)).to_be_visible()
    sections = page.get_by_role("list", name=t("Sections"))
    sections.get_by_role("link", name=t("Payment"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Postpaid account"))).to_be_visible()
    summary = page.locator('[data-section="postpaid-payment"]')
    expect(summary.locator('[data-field="debt"]')).to_have_text(t.money("25.41"))
    expect(summary.locator('[data-field="invoiced-unpaid"]')).to_have_text(t.money("24.20"))
    expect(summary.locator('[data-field="unbilled-tax"]')).to_have_text(t.money("0.21"))
    open_invoices = page.get_by_role("table", name=t("Open invoices"))
    expect(open_invoices.get_by_role("row").filter(has_text=invoice_number)).to_have_count(1)

    # Record the payment of last month's invoice (typed as the reader writes amounts).
    page.get_by_label(t("Amount (%(currency)s)", currency="EUR"), exact=True).fill(
        "24.20" if language == "en" else "24,20"
    )
    page.get_by_label(t("Reference (optional)"), exact=True).fill("Bank transfer 42")
    page.get_by_role("button", name=t("Record payment")).click()
    # Nothing is recorded yet: the amount as it was read, then Confirm.
    expect(page.get_by_role("heading", name=t("Confirm the payment"))).to_be_visible()
    expect(page.locator('[data-field="amount"]')).to_have_text(t.money("24.20"))
    page.get_by_role("button", name=t("Confirm"), exact=True).click()

    expect(page.get_by_role("alert")).to_have_text(
        t("Payment of %(amount)s recorded.", amount=t.money("24.20"))
    )
    expect(summary.locator('[data-field="debt"]')).to_have_text(t.money("1.21"))
    expect(summary.locator('[data-field="invoiced-unpaid"]')).to_have_text(t.money("0.00"))
    expect(open_invoices.get_by_role("cell", name=t("No open invoices."))).to_be_visible()
    payments = page.get_by_role("table", name=t("Payments"))
    expect(payments.get_by_role("row").filter(has_text="Bank transfer 42")).to_contain_text(
        t.money("24.20")
    )
    sections.get_by_role("link", name=t("Overview")).click()
    expect(page.locator('[data-field="debt"]')).to_have_text(t.money("1.21"))
    log_out(page, agent_name, t)

    # An admin of the organization: Invoices → the invoice, paid → its PDF.
    t = log_in(page, live_server, admin_email, language)
    sections = page.get_by_role("list", name=t("Sections"))
    sections.get_by_role("link", name=t("Invoices"), exact=True).click()
    expect(page.get_by_role("heading", name=t("Invoices"), exact=True)).to_be_visible()
    invoice_row = page.get_by_role("row").filter(has_text=invoice_number)
    expect(invoice_row.locator('[data-field="kind"]')).to_have_text(t("Invoice"))
    expect(invoice_row.locator('[data-field="total"]')).to_have_text(t.money("24.20"))
    expect(invoice_row.locator('[data-field="status"]')).to_have_text(t("Paid"))
    pdf = download(
        page,
        invoice_row.get_by_role("link", name=f"{t('Download PDF')} {invoice_number}"),
    )
    assert pdf.startswith(b"%PDF")
