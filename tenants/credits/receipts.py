"""The "your receipt" email: sent by a job when a purchase is paid, with the PDF attached."""

from __future__ import annotations

from flask import render_template
from flask_babel import force_locale

from tenants.core.extensions import db
from tenants.core.mail import build_message, deliver
from tenants.credits.alerts import language_for, owner_user
from tenants.invoices.documents import render_invoice_pdf
from tenants.jobs.outbox import enqueue
from tenants.models import Invoice, Organization, Purchase
from tenants.people.invitations import external_url


def send_receipt(purchase: Purchase) -> None:
    """Record the job in the transaction that paid the purchase."""
    enqueue("send_receipt", purchase_id=purchase.id)


def receipt_recipient(org: Organization, purchase: Purchase) -> tuple[str | None, object]:
    """The billing email (as on the receipt, else as now), else the owner."""
    owner = owner_user(org)
    email = (purchase.billing or {}).get("email") or org.billing_email
    return email or (owner.email if owner else None), owner


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
    context = {
        "organization": org,
        "purchase": purchase,
        "receipt": receipt,
        "link": external_url("credits.purchase_done", org_id=org.id, purchase_id=purchase.id),
    }
    with force_locale(language):
        subject = render_template("emails/receipt.subject.txt", **context).strip()
        text = render_template("emails/receipt.txt", **context)
        html = render_template("emails/receipt.html", **context)
    pdf = render_invoice_pdf(receipt, language)
    attachment = (f"{receipt.number}.pdf", "application/pdf", pdf)
    deliver(build_message(email, subject, text, html, [attachment]))
