"""The "your invoice is ready" email: sent by a job after a monthly invoice, PDF attached."""

from __future__ import annotations

from tenants.core.extensions import db
from tenants.jobs.registry import job
from tenants.models import Invoice, Organization
from tenants.notify.emails import external_url, send_email_template


def month_name(period: str | None, language: str) -> str:
    """ "2026-10" as "October 2026" in ``language``."""
    from datetime import date

    from babel.dates import format_skeleton

    if not period:
        return ""
    year, month = (int(part) for part in period.split("-"))
    return format_skeleton("yMMMM", date(year, month, 1), locale=language)


@job("send_invoice_email")
def deliver_invoice_email(invoice_id: str) -> None:
    """To the billing email as issued, else the owner; in the invoice's language."""
    from tenants.billing.postpaid import billing_contact
    from tenants.invoices.documents import render_invoice_pdf

    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        return
    org = db.session.get(Organization, invoice.organization_id)
    email = (invoice.billing or {}).get("email") or billing_contact(org)[0]
    if not email:
        return
    language = invoice.language
    pdf = render_invoice_pdf(invoice, language)
    send_email_template(
        email,
        language,
        "invoice_ready",
        attachments=[(f"{invoice.number}.pdf", "application/pdf", pdf)],
        organization=org,
        invoice=invoice,
        period=month_name(invoice.period, language),
        link=external_url("organization.invoices", org_id=org.id),
    )
