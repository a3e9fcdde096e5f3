"""Account notices reach the organization's notification email (seed 003) as well as the
owner (or whoever the notice is for): suspension with its reason, invoice ready, support
session started. Run by a real RQ worker; read from the file outbox."""

from __future__ import annotations

from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask

from tenants.access.actors import SYSTEM
from tenants.billing.final_invoice import issue_final_invoice
from tenants.billing.usage import record_usage
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.jobs.outbox import commit
from tenants.models import ResellerRole, SupportMode
from tenants.notify.recipients import Recipient, notice_recipients
from tenants.organizations.operations import suspend_organization
from tenants.support.sessions import start_support_session
from tests.conftest import new_reference, owner_of, staff_actor, text_of
from tests.jobs.conftest import burst_worker, outbox

REASON = "Unpaid invoices since September"


def to(app: Flask, address: str, subject: str = "") -> list[EmailMessage]:
    return [m for m in outbox(app, address) if subject in m["Subject"]]


@pytest.fixture
def customer(app, redis, create_priced_reseller, create_reseller_staff, create_organization):
    """A Spanish prepaid customer whose owner reads English; its notification email is an
    address no user has; a reseller agent. The outbox starts empty (the owner's invitation
    delivered and set aside)."""
    reseller = create_priced_reseller(name="Notice Telecom")
    agent = create_reseller_staff(reseller, ResellerRole.AGENT, name="Agent Smith")
    org = create_organization(
        reseller, name="Acme Ibérica", country="ES", owner_email="owner@acme.example"
    )
    org.notification_email = "avisos@acme.example"
    owner = owner_of(org)
    owner.user.language = "en"
    commit()
    burst_worker(app)
    for path in Path(app.config["OUTBOX_DIR"]).glob("*.eml"):
        path.unlink()
    return org, owner, agent


def test_the_rule_adds_the_notification_email_once(customer):
    org, owner, _agent = customer
    assert notice_recipients(org) == [
        Recipient("owner@acme.example", owner.user_id),
        Recipient("avisos@acme.example"),
    ]
    org.notification_email = "OWNER@acme.example"  # the owner's address, written otherwise
    assert notice_recipients(org) == [Recipient("owner@acme.example", owner.user_id)]
    org.notification_email = None
    assert notice_recipients(org, ["billing@acme.example"]) == [Recipient("billing@acme.example")]


def test_suspension_reaches_the_owner_and_the_notification_email_with_its_reason(
    app, redis, customer
):
    org, _owner, _agent = customer
    suspend_organization(SYSTEM, org, REASON)
    commit()
    burst_worker(app)

    (to_owner,) = to(app, "owner@acme.example")
    (to_notices,) = to(app, "avisos@acme.example")
    assert to_owner["Subject"] == "Acme Ibérica has been suspended"
    assert REASON in text_of(to_owner) and "Notice Telecom suspended" in text_of(to_owner)
    # No account has that address: the owner's language (English here).
    assert to_notices["Subject"] == "Acme Ibérica has been suspended"
    assert REASON in text_of(to_notices)
    assert to_notices.get_body(preferencelist=("html",)) is not None


def test_suspension_in_spanish_and_once_when_the_notification_email_is_the_owners(
    app, redis, customer
):
    org, owner, _agent = customer
    owner.user.language = "es"
    org.notification_email = "Owner@Acme.example"
    commit()
    suspend_organization(SYSTEM, org, REASON)
    commit()
    burst_worker(app)
    assert len(outbox(app)) == 1
    (message,) = to(app, "owner@acme.example")
    assert message["Subject"] == "Acme Ibérica fue suspendida"
    assert f"Motivo: {REASON}" in text_of(message)


def test_the_final_invoice_reaches_the_billing_contact_and_the_notification_email(
    app, redis, customer, create_organization
):
    _org, _owner, agent = customer
    reseller = _org.reseller
    org = create_organization(
        reseller, name="Postpaid SL", pricing_model="postpaid", owner_email="pp@acme.example"
    )
    org.billing_email = "billing@acme.example"
    org.notification_email = "avisos@postpaid.example"
    org.credit_limit = Decimal("1000")
    commit()
    record_usage(SYSTEM, org, credits=40, reference=new_reference())
    commit()
    burst_worker(app)  # the new owner's invitation
    suspend_organization(SYSTEM, org, "Closing")
    invoice = issue_final_invoice(staff_actor(reseller, agent), org, now=utcnow())
    number = invoice.number
    commit()
    burst_worker(app)

    (billing,) = to(app, "billing@acme.example", number)
    (notices,) = to(app, "avisos@postpaid.example", number)
    for message in (billing, notices):
        attachment = next(message.iter_attachments())
        assert attachment.get_filename() == f"{number}.pdf"
    # The owner is told of the suspension (with the notification email), not sent the
    # invoice: invoices go to the billing contact.
    assert to(app, "pp@acme.example", number) == []
    assert len(to(app, "pp@acme.example", "suspended")) == 1
    assert len(to(app, "avisos@postpaid.example", "suspended")) == 1


def test_a_support_session_reaches_the_notification_email_too(app, redis, customer):
    org, owner, agent = customer
    reseller = org.reseller
    reseller.notify_owner_on_support_session = True
    commit()
    start_support_session(
        staff_actor(reseller, agent),
        org,
        owner.id,
        "Ticket #12",
        authenticated_at=utcnow(),
        mode=SupportMode.CHANGE,
    )
    commit()
    burst_worker(app)
    (to_owner,) = to(app, "owner@acme.example")
    (to_notices,) = to(app, "avisos@acme.example")
    assert to_owner["Subject"] == "Support session with changes started in Acme Ibérica"
    assert "Hello Owner Person," in text_of(to_owner)
    assert "Hello," in text_of(to_notices) and "Ticket #12" in text_of(to_notices)
    assert "Agent Smith" in text_of(to_notices)


def test_no_support_notice_when_nobody_is_to_be_told(app, redis, customer):
    org, owner, agent = customer
    reseller = org.reseller
    reseller.notify_owner_on_support_session = False
    commit()
    start_support_session(
        staff_actor(reseller, agent), org, owner.id, "Ticket #13", authenticated_at=utcnow()
    )
    commit()
    burst_worker(app)
    assert outbox(app) == []
    db.session.rollback()
