"""The "your invoice is ready" email: sent by a job after a monthly invoice, PDF attached.

Also who it goes to, and in which language: the billing contact, which the monthly run
reads in bulk to write each invoice in that language.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select

from tenants.billing.periods import month_name
from tenants.core.bulk import one_of
from tenants.core.extensions import db
from tenants.invoices.documents import render_invoice_pdf
from tenants.jobs.outbox import enqueue
from tenants.jobs.registry import job
from tenants.models import Invoice, Member, MemberRole, Organization, User
from tenants.notify.emails import external_url, send_email_template
from tenants.notify.recipients import language_for, notice_recipients


def _billing_contacts(orgs: list[tuple[str, str | None, str | None]]) -> dict[str, tuple]:
    """``{org id: (email or None, language)}`` for ``(org id, billing email, reseller's
    default language)``: the billing email, else the owner's; the language of the person
    behind that address (the owner when no user has it), else the reseller's."""
    languages = current_app.config["LANGUAGES"]
    fallback = current_app.config["BABEL_DEFAULT_LOCALE"]
    owners: dict[str, tuple[str, str | None]] = {}
    rows = db.session.execute(
        select(Member.organization_id, User.email, User.language)
        .join(User, Member.user_id == User.id)
        .where(
            one_of(Member.organization_id, [org_id for org_id, _e, _l in orgs]),
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
        .order_by(Member.organization_id, Member.id)
    )
    for org_id, email, language in rows:
        owners.setdefault(org_id, (email, language))
    wanted = sorted({email.lower() for _o, email, _l in orgs if email})
    people: dict[str, str | None] = {}
    if wanted:
        rows = db.session.execute(
            select(func.lower(User.email), User.language).where(func.lower(User.email).in_(wanted))
        )
        for email, language in rows:
            people.setdefault(email, language)
    contacts = {}
    for org_id, billing_email, reseller_language in orgs:
        owner = owners.get(org_id)
        email = billing_email or (owner[0] if owner else None)
        if billing_email and billing_email.lower() in people:
            person: tuple | None = (people[billing_email.lower()],)
        else:
            person = (owner[1],) if owner else None
        if person is None:
            language = reseller_language if reseller_language in languages else "en"
        else:
            language = next((c for c in (person[0], reseller_language) if c in languages), fallback)
        contacts[org_id] = (email, language)
    return contacts


def billing_contact(org: Organization) -> tuple[str | None, str]:
    """Where an invoice goes (billing email, else the owner) and in which language."""
    return _billing_contacts([(org.id, org.billing_email, org.reseller.default_language)])[org.id]


@job("send_invoice_email")
def deliver_invoice_email(invoice_id: str, email: str | None = None) -> None:
    """To the billing email as issued, else the owner, in the invoice's language; this job
    first asks for one more per other address an account notice goes to (the notification
    email: tenants.notify.recipients), each in its reader's language (``email``)."""
    invoice = db.session.get(Invoice, invoice_id)
    if invoice is None:
        return
    org = db.session.get(Organization, invoice.organization_id)
    if email is None:
        email = (invoice.billing or {}).get("email") or billing_contact(org)[0]
        # Asked for before sending: a failed sending forgets them, its retry asks again.
        for other in notice_recipients(org, [email] if email else [])[1 if email else 0 :]:
            enqueue("send_invoice_email", invoice_id=invoice.id, email=other.email)
        language = invoice.language
    else:
        language = language_for(email, org)
    if not email:
        return
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
