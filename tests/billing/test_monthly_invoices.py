"""Monthly invoices: contents by the organization's month, totals, numbering, the run."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from tenants.billing import monthly_run, payments, postpaid
from tenants.core.errors import PeriodNotEnded, ValidationFailed
from tenants.core.extensions import db
from tenants.invoices.documents import invoice_lines, render_invoice_pdf
from tenants.invoices.reading import shown_lines
from tenants.models import (
    BillingRun,
    EntryType,
    Invoice,
    InvoiceKind,
    LedgerEntry,
    PostpaidAccount,
    QueuedJob,
    User,
)
from tests.billing.conftest import TAXES, use
from tests.conftest import set_prices


def monthly_invoices(org=None) -> list[Invoice]:
    query = select(Invoice).where(Invoice.kind == InvoiceKind.INVOICE)
    if org is not None:
        query = query.where(Invoice.organization_id == org.id)
    return list(db.session.scalars(query.order_by(Invoice.sequence)))


def test_mexico_city_month_boundary(clock, create_postpaid):
    """2026-11-01T03:00Z is 21:00 on 31 October in Mexico City: October's invoice."""
    org = create_postpaid(country="MX", currency="EUR", timezone="America/Mexico_City")
    clock.now = datetime(2026, 11, 2, tzinfo=UTC)
    use(org, 7, at=datetime(2026, 10, 1, 5, 59, tzinfo=UTC))  # 30 Sep 23:59 local
    use(org, 11, at=datetime(2026, 10, 1, 6, 0, tzinfo=UTC))  # 1 Oct 00:00 local
    use(org, 13, at=datetime(2026, 11, 1, 3, 0, tzinfo=UTC))  # 31 Oct 21:00 local
    use(org, 17, at=datetime(2026, 11, 1, 6, 0, tzinfo=UTC))  # 1 Nov 00:00 local

    result = monthly_run.run_monthly("2026-10", now=datetime(2026, 11, 2, tzinfo=UTC))

    september, october = monthly_invoices(org)  # September first: nothing is left behind
    assert result.invoiced == 2
    assert (september.period, october.period) == ("2026-09", "2026-10")
    assert [line.quantity for line in invoice_lines(september)] == [7]
    lines = invoice_lines(october)
    assert [line.quantity for line in lines] == [11, 13]
    assert [(line.item, line.item_date) for line in lines] == [
        ("sms_usage", date(2026, 10, 1)),
        ("sms_usage", date(2026, 10, 31)),
    ]
    shown = shown_lines(october, lines, "en")
    assert "Oct 1, 2026" in shown[0].description and "Oct 31, 2026" in shown[1].description
    assert october.subtotal == Decimal("1.20")  # 24 x 0.05
    assert october.tax_percent == Decimal("16") and october.tax == Decimal("0.19")
    assert october.total == Decimal("1.39")
    account = db.session.get(PostpaidAccount, org.id, populate_existing=True)
    assert account.unbilled == Decimal("0.85") and account.unbilled_credits == 17


def test_every_charge_of_the_month_and_none_of_the_next(clock, create_postpaid):
    org = create_postpaid()  # Spain: Europe/Madrid, UTC+1 in late October
    moments = [
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 28, 9, 0, tzinfo=UTC),
        datetime(2026, 10, 28, 17, 0, tzinfo=UTC),
        datetime(2026, 10, 31, 22, 59, tzinfo=UTC),  # 23:59 local, still October
    ]
    for moment in moments:
        use(org, 100, at=moment)
    use(org, 1000, at=datetime(2026, 10, 31, 23, 0, tzinfo=UTC))  # 00:00 on 1 Nov in Madrid
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    assert sum(line.quantity for line in invoice_lines(invoice)) == 400
    assert [line.quantity for line in invoice_lines(invoice)] == [100, 200, 100]  # per day
    assert invoice.subtotal == Decimal("20.00")
    assert invoice.tax == Decimal("4.20") and invoice.total == Decimal("24.20")
    # November so far: 50.00 and the 10.50 of tax it will carry.
    assert postpaid.organization_debt(org) == Decimal("24.20") + Decimal("50.00") + Decimal("10.50")


def test_each_line_rounds_half_up_and_the_subtotal_is_their_sum(clock, create_postpaid, reseller):
    """EN 16931: a line's amount is quantity x unit price rounded to the cent; the subtotal
    is the sum of the lines (not the month's exact sum rounded once: 0.0375 → 0.04 would
    stand over lines adding up to 0.03); the tax is rounded once on that base."""
    set_prices(reseller, postpaid="0.0125", taxes=TAXES)
    org = create_postpaid()
    for day in (25, 26, 27):
        use(org, 1, at=datetime(2026, 10, day, 12, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    lines = invoice_lines(invoice)
    assert [line.unit_price for line in lines] == [Decimal("0.0125")] * 3  # full precision
    assert [line.amount for line in lines] == [Decimal("0.01")] * 3  # 0.0125 → 0.01
    assert invoice.subtotal == sum(line.amount for line in lines) == Decimal("0.03")
    assert invoice.tax == Decimal("0.01")  # 0.0063 → 0.01
    assert invoice.total == Decimal("0.04")
    assert invoice.taxes == [{"percent": "21", "base": "0.03", "tax": "0.01"}]


def test_lines_rounding_up_still_add_up_to_the_subtotal(clock, create_postpaid, reseller):
    """$0.055 a message, one a day: each line is 0.06 (half-up), so three days are 0.18 —
    the month's exact 0.165 rounded once (0.17) would not be the sum of its lines."""
    set_prices(reseller, postpaid="0.055", taxes={"US": "8.875"}, currency="USD")
    org = create_postpaid(country="US", currency="USD", timezone="America/New_York")
    for day in (24, 25, 26):
        use(org, 1, at=datetime(2026, 10, day, 15, tzinfo=UTC))
    use(org, 2457, at=datetime(2026, 10, 27, 15, tzinfo=UTC))  # 135.135 → 135.14
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    lines = invoice_lines(invoice)
    assert [line.amount for line in lines] == [Decimal("0.06")] * 3 + [Decimal("135.14")]
    assert invoice.subtotal == sum(line.amount for line in lines) == Decimal("135.32")
    assert invoice.tax == Decimal("12.01")  # 135.32 x 8.875 % = 12.00965
    assert invoice.total == invoice.subtotal + invoice.tax
    text = PdfReader(io.BytesIO(render_invoice_pdf(invoice))).pages[0].extract_text()
    assert "$0.055" in text and "$0.06" in text and "$135.32" in text


def test_run_twice_invoices_each_organization_once_with_gapless_numbers(clock, create_postpaid):
    orgs = [create_postpaid() for _ in range(4)]
    for org in orgs:
        use(org, 10, at=datetime(2026, 10, 26, tzinfo=UTC))
    idle = create_postpaid()  # no usage: no invoice

    first = monthly_run.run_monthly("2026-10", now=clock.now)
    second = monthly_run.run_monthly("2026-10", now=clock.now)

    assert (first.invoiced, first.failed) == (4, 0)
    assert (second.invoiced, second.failed) == (0, 0)
    invoices = monthly_invoices()
    assert sorted(i.organization_id for i in invoices) == sorted(o.id for o in orgs)
    assert [i.sequence for i in invoices] == [1, 2, 3, 4]
    assert not monthly_invoices(idle)
    runs = list(db.session.scalars(select(BillingRun).order_by(BillingRun.started_at)))
    assert [(r.invoiced, r.total, r.progress, r.status) for r in runs] == [
        (4, 4, 4, "finished"),
        (0, 0, 0, "finished"),
    ]


def test_an_organization_whose_month_has_not_ended_waits_for_the_catch_up(clock, create_postpaid):
    madrid = create_postpaid()
    pacific = create_postpaid(timezone="America/Los_Angeles")
    clock.now = datetime(2026, 10, 31, 12, tzinfo=UTC)
    use(madrid, 10, at=datetime(2026, 10, 30, tzinfo=UTC))
    use(pacific, 10, at=datetime(2026, 10, 30, tzinfo=UTC))

    half_past_midnight = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)  # 17:30 on 31 Oct in LA
    result = monthly_run.run_monthly(now=half_past_midnight)
    assert (result.invoiced, result.skipped) == (1, 1)
    assert monthly_invoices(madrid) and not monthly_invoices(pacific)

    results = monthly_run.run_monthly_catch_up(now=datetime(2026, 11, 2, tzinfo=UTC))
    assert sum(r.invoiced for r in results) == 1
    assert monthly_invoices(pacific)[0].period == "2026-10"
    assert sum(r.invoiced for r in monthly_run.run_monthly_catch_up(now=clock.now)) == 0


def test_the_run_refuses_a_month_that_has_not_ended(clock, create_postpaid):
    with pytest.raises(PeriodNotEnded):
        monthly_run.run_monthly("2026-11", now=clock.now)
    with pytest.raises(PeriodNotEnded):
        monthly_run.run_monthly("2027-01", now=clock.now)
    with pytest.raises(ValidationFailed):
        monthly_run.run_monthly("2026-13", now=clock.now)


def test_the_invoice_is_a_ledger_entry_and_an_email_with_the_pdf(clock, create_postpaid, app):
    org = create_postpaid()
    org.billing_email = "accounts@example.com"
    db.session.commit()
    use(org, 40, at=datetime(2026, 10, 26, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)

    entry = db.session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.type == EntryType.INVOICE, LedgerEntry.balance_after.is_not(None)
        )
    )
    assert (entry.credits, entry.amount, entry.reference) == (40, invoice.total, invoice.number)
    assert entry.balance_after == 0
    job = db.session.scalar(select(QueuedJob).where(QueuedJob.name == "send_invoice_email"))
    assert job.finished_at is not None  # embedded default: ran in-process after the commit
    emails = [
        message_from_bytes(eml.read_bytes(), policy=policy.default)
        for eml in Path(app.config["OUTBOX_DIR"]).glob("*.eml")
    ]
    (message,) = [m for m in emails if m["To"] == "accounts@example.com"]
    assert invoice.number in message["Subject"]
    assert "October 2026" in message.get_body(preferencelist=("plain",)).get_content()
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    text = PdfReader(io.BytesIO(attachment.get_content())).pages[0].extract_text()
    assert invoice.number in text
    assert "2.42" in text  # 40 x 0.05 = 2.00 + 21 % = 2.42


def test_the_pdf_is_in_the_billing_contacts_language(clock, create_postpaid, create_user):
    org = create_postpaid(owner_email="duena@example.com")
    owner = db.session.scalar(select(User).where(User.email == "duena@example.com"))
    owner.language = "es"
    db.session.commit()
    use(org, 40, at=datetime(2026, 10, 26, tzinfo=UTC))
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    assert invoice.language == "es"
    (line,) = invoice_lines(invoice)
    assert line.description is None  # stored as a key and its day, rendered when read
    assert shown_lines(invoice, [line], "es")[0].description == "Consumo de SMS — 26 oct 2026"
    text = PdfReader(io.BytesIO(render_invoice_pdf(invoice))).pages[0].extract_text()
    assert "2,42" in text  # Spanish number format
    assert "Consumo de SMS" in text and "SMS usage" not in text
    assert "octubre de 2026" in text and "2026-10" not in text  # the period, a month
    # The same invoice read in English: English lines.
    text = PdfReader(io.BytesIO(render_invoice_pdf(invoice, "en"))).pages[0].extract_text()
    assert "SMS usage — Oct 26, 2026" in text and "Consumo de SMS" not in text
    assert "October 2026" in text


def test_payments_ahead_settle_the_next_invoice(clock, create_postpaid):
    from tenants.access.actors import SYSTEM
    from tenants.jobs.outbox import commit

    org = create_postpaid()
    use(org, 100, at=datetime(2026, 10, 26, tzinfo=UTC))  # 5.00 unbilled, 1.05 tax to come
    assert postpaid.organization_debt(org) == Decimal("6.05")
    payments.record_payment(SYSTEM, org, Decimal("5.00"))
    commit()
    assert postpaid.organization_debt(org) == Decimal("1.05")
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    assert invoice.status == "open" and postpaid.organization_debt(org) == Decimal("1.05")
    payments.record_payment(SYSTEM, org, Decimal("1.05"))
    commit()
    db.session.refresh(invoice)
    assert invoice.status == "paid" and postpaid.organization_debt(org) == 0


def test_a_country_change_taxes_only_what_follows_it(clock, create_postpaid, reseller):
    """Spanish usage (21 %), then the organization moves to Mexico (16 %): the month's invoice
    taxes each part at its own rate, rounded once per rate; the debt counted both on the way."""
    from tenants.access.actors import SYSTEM
    from tenants.jobs.outbox import commit
    from tenants.organizations.operations import update_organization

    org = create_postpaid()
    use(org, 100, at=datetime(2026, 10, 25, tzinfo=UTC))  # 5.00 at 21 %
    update_organization(SYSTEM, org, {"country": "MX"})
    commit()
    use(org, 300, at=datetime(2026, 10, 28, tzinfo=UTC))  # 15.00 at 16 %
    assert postpaid.organization_debt(org) == Decimal("5.00") + Decimal("1.05") + Decimal(
        "15.00"
    ) + Decimal("2.40")
    monthly_run.run_monthly("2026-10", now=clock.now)
    (invoice,) = monthly_invoices(org)
    assert invoice.subtotal == Decimal("20.00")
    assert invoice.tax == Decimal("3.45") and invoice.total == Decimal("23.45")
    # Two tax lines, each rate on its own base; each line keeps the rate of its day.
    assert invoice.taxes == [
        {"percent": "16", "base": "15.00", "tax": "2.40"},
        {"percent": "21", "base": "5.00", "tax": "1.05"},
    ]
    lines = invoice_lines(invoice)
    assert [(line.quantity, line.tax_percent) for line in lines] == [
        (100, Decimal("21")),
        (300, Decimal("16")),
    ]
    text = PdfReader(io.BytesIO(render_invoice_pdf(invoice))).pages[0].extract_text()
    assert "Tax (16 %) on €15.00" in text and "Tax (21 %) on €5.00" in text
    assert postpaid.organization_debt(org) == Decimal("23.45")
    account = db.session.get(PostpaidAccount, org.id, populate_existing=True)
    assert account.unbilled == 0 and account.unbilled_tax == 0
