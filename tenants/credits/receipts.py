"""The "your receipt" email: sent by a job when a purchase is paid, with the PDF attached."""

from __future__ import annotations

from tenants.core.extensions import db
from tenants.invoices.documents import render_invoice_pdf
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Invoice, Organization, Purchase
from tenants.notify.emails import external_url, send_email_template
from tenants.notify.recipients import language_for, owner_user


def send_receipt(purchase: Purchase) -> None:
    """Record the job in the transaction that paid the purchase."""
    enqueue("send_receipt", purchase_id=purchase.id)


def receipt_recipient(org: Organization, purchase: Purchase) -> tuple[str | None, object]:
    """The billing email (as on the receipt, else as now), else the owner."""
    owner = owner_user(org)
    email = (purchase.billing or {}).get("email") or org.billing_email
    return email or (owner.email if owner else None), owner


@job("send_receipt")
def deliver_receipt(purchase_id: str) -> None:
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or purchase.receipt_id is None:
        return
    org = db.session.get(Organization, purchase.organization_id)
    receipt = db.session.get(Invoice, purchase.receipt_id)
    email, owner = receipt_recipient(org, purchase)
    if not email:
        return
    language = language_for(email, org, owner)
    pdf = render_invoice_pdf(receipt, language)
    send_email_template(
        email,
        language,
        "receipt",
        attachments=[(f"{receipt.number}.pdf", "application/pdf", pdf)],
        organization=org,
        purchase=purchase,
        receipt=receipt,
        link=external_url("credits.purchase_done", org_id=org.id, purchase_id=purchase.id),
    )
