"""Two fully furnished resellers (A and B), a client logged in per actor, and a snapshot of
the database, for the isolation matrix and the CSRF sweep.

Everything here is built once per test (the app is per test): the matrix and the sweep are
each one test that loops over every rule, so the world is made once and the clients reused.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.api_keys.operations import create_api_key
from tenants.billing.monthly_run import issue_monthly_invoice
from tenants.billing.periods import period_of
from tenants.billing.postpaid import record_postpaid_usage
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.credits import purchases
from tenants.jobs.outbox import commit
from tenants.models import (
    MemberRole,
    PlatformRole,
    PlatformStaff,
    QueuedJob,
    ResellerRole,
    ResellerStaff,
)
from tests.conftest import PASSWORD, member_actor, owner_of, staff_actor

# ---------------------------------------------------------------------------
# The database snapshot

# Bookkeeping that moves on every request whoever makes it and is no tenant's data:
# failed logins (per email/IP), server-side login sessions (created at each log-in, their
# last_seen_at touched by each request).
EXCLUDED_TABLES = {"login_failures", "user_sessions"}
# Columns that record "last used" on an otherwise unchanged row.
EXCLUDED_COLUMNS = {("api_keys", "last_used_at")}


def snapshot() -> dict[str, tuple[int, str]]:
    """Row count and a hash of every row of every tenant table, read on a fresh connection
    (committed data only, whatever the session holds)."""
    db.session.remove()  # end the test's own transaction (SQLite: it would hold the lock)
    result = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            if table.name in EXCLUDED_TABLES:
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in EXCLUDED_COLUMNS]
            order = list(table.primary_key.columns) or columns
            query = sa.select(*columns).order_by(*order)
            rows = conn.execute(query).all()
            digest = hashlib.sha256(repr([tuple(map(str, row)) for row in rows]).encode())
            result[table.name] = (len(rows), digest.hexdigest())
    return result


def changed_tables(before: dict, after: dict) -> list[str]:
    return sorted(name for name in before if before[name] != after.get(name))


# ---------------------------------------------------------------------------
# Two resellers with everything a route can point at


def _furnish(
    label, create_priced_reseller, create_reseller_staff, create_organization, create_member
):
    # €0.05 a credit or an SMS, 21 % tax in Spain.
    reseller = create_priced_reseller(name=f"Reseller {label} Marker{label}", prepaid="0.05")
    admin = create_reseller_staff(reseller, role=ResellerRole.ADMIN, name=f"Admin {label}")
    agent = create_reseller_staff(reseller, role=ResellerRole.AGENT, name=f"Agent {label}")
    prepaid = create_organization(reseller, name=f"Prepaid {label} Marker{label}")
    postpaid = create_organization(
        reseller, name=f"Postpaid {label} Marker{label}", pricing_model="postpaid"
    )
    prepaid.individual_user_credits = True
    postpaid.credit_limit = Decimal("1000")
    commit()
    owner = owner_of(prepaid)
    org_admin = create_member(prepaid, role="admin", name=f"Ada {label}")
    member = create_member(prepaid, role="member", name=f"Max {label}")
    no_access = create_member(prepaid, role="member", portal_access=False, password=None)

    staff = staff_actor(reseller, agent)
    # A paid purchase with its receipt, and a pending one.
    paid = purchases.start_purchase(
        staff, prepaid, credit_count=100, account="system", payment_method="offline"
    )
    purchases.pay(staff, paid, {"note": "bank transfer"})
    pending = purchases.start_purchase(
        staff, prepaid, credit_count=10, account="system", payment_method="offline"
    )
    commit()
    # A monthly invoice of the postpaid organization.
    record_postpaid_usage(SYSTEM, postpaid, credits=7, reference=f"sms-{label}")
    commit()
    period = period_of(utcnow(), postpaid.timezone)
    invoice = issue_monthly_invoice(postpaid, period, now=utcnow() + timedelta(days=40))
    commit()
    # A payment of it (the Payment section's payments can be voided).
    from tenants.billing.payments import record_payment

    payment = record_payment(staff, postpaid, "0.10", reference=f"bank-{label}")
    commit()
    # A message (Send SMS) of the prepaid organization, written as it is kept: a route's
    # record, not a charge (the ledger and the invoice stay as they are).
    from tenants.models import Message, MessageRecipient, RecipientStatus

    message = Message(
        reseller_id=reseller.id,
        organization_id=prepaid.id,
        account="system",
        text=f"Hi Marker{label}",
        encoding="gsm7",
        segments=1,
        recipients=1,
        credits=1,
    )
    db.session.add(message)
    db.session.flush()
    db.session.add(
        MessageRecipient(
            message_id=message.id,
            organization_id=prepaid.id,
            number="+34600000001",
            status=RecipientStatus.DELIVERED,
        )
    )
    commit()
    # A support session (login-as) by the agent.
    from tenants.support.sessions import start_support_session

    support = start_support_session(
        staff, prepaid, owner.id, "Customer asked for help", authenticated_at=utcnow()
    )
    commit()
    # A request to change the owner, waiting for the admin's answer.
    from tenants.organizations import ownership

    transfer = ownership.start_ownership_transfer(member_actor(owner), prepaid, org_admin)
    commit()
    # A contact list with a contact, an import with a rejected row, an opt-out.
    from tenants.contacts import operations as contacts

    contact_list = contacts.create_list(SYSTEM, prepaid, name=f"Clients {label}")
    contact = contacts.add_contact(SYSTEM, prepaid, contact_list, name="Ana", mobile="+34600000001")
    contact_import = contacts.import_contacts(
        SYSTEM, prepaid, contact_list, io.BytesIO(b"name,mobile\nBad,12\n")
    )
    opt_out = contacts.add_opt_out(SYSTEM, prepaid, mobile="+34600000009")
    commit()
    # A campaign to that list charged to the owner's credits, its first run a day away (its
    # credit reserved).
    from tenants.campaigns.operations import create_campaign
    from tenants.credits.operations import transfer_credits

    transfer_credits(staff, prepaid, "system", f"member:{owner.id}", 10, agreed=True)
    campaign = create_campaign(
        SYSTEM,
        prepaid,
        account=f"member:{owner.id}",
        name=f"Promo {label}",
        list_id=contact_list.id,
        text=f"Hi Marker{label}",
        starts_at=utcnow() + timedelta(days=1),
    )
    commit()
    reseller_key, reseller_secret = create_api_key(SYSTEM, reseller=reseller, name="rk")
    org_key, org_secret = create_api_key(SYSTEM, reseller=reseller, organization=prepaid)
    commit()
    staff_row = db.session.scalar(sa.select(ResellerStaff).where(ResellerStaff.user_id == agent.id))
    return SimpleNamespace(
        reseller_id=reseller.id,
        reseller_name=reseller.name,
        marker=f"Marker{label}",
        admin_email=admin.email,
        agent_email=agent.email,
        staff_id=staff_row.id,
        org_id=prepaid.id,
        postpaid_org_id=postpaid.id,
        owner_email=owner.user.email,
        org_admin_email=org_admin.user.email,
        member_email=member.user.email,
        owner_member_id=owner.id,
        member_id=member.id,
        no_access_member_id=no_access.id,
        purchase_id=paid.id,
        pending_purchase_id=pending.id,
        receipt_id=paid.receipt_id,
        invoice_id=invoice.id,
        payment_id=payment.id,
        message_id=message.id,
        support_session_id=support.id,
        ownership_transfer_id=transfer.id,
        ownership_token=ownership.link_token(transfer),
        reseller_key_id=reseller_key.id,
        reseller_secret=reseller_secret,
        org_key_id=org_key.id,
        org_secret=org_secret,
        list_id=contact_list.id,
        contact_id=contact.id,
        import_id=contact_import.import_id,
        opt_out_id=opt_out.id,
        campaign_id=campaign.id,
    )


@pytest.fixture
def world(
    app,
    create_priced_reseller,
    create_reseller_staff,
    create_organization,
    create_member,
    create_platform_staff,
):
    """Resellers A and B, each with staff, a prepaid and a postpaid organization, an owner,
    an admin, a member, a paid and a pending purchase with a receipt, a monthly invoice, a
    support session, a pending ownership transfer (owner to admin), a reseller key and an
    organization key; plus platform staff."""
    args = (create_priced_reseller, create_reseller_staff, create_organization, create_member)
    a = _furnish("A", *args)
    b = _furnish("B", *args)
    platform_admin = create_platform_staff(role=PlatformRole.ADMIN)
    support_agent = create_platform_staff(role=PlatformRole.SUPPORT)
    job = db.session.scalar(sa.select(QueuedJob).order_by(QueuedJob.created_at.desc()))
    platform_staff_id = db.session.scalar(
        sa.select(PlatformStaff.id).where(PlatformStaff.user_id == support_agent.id)
    )
    assert MemberRole.OWNER  # the roles the actors below stand for
    return SimpleNamespace(
        a=a,
        b=b,
        platform_admin_email=platform_admin.email,
        support_agent_email=support_agent.email,
        job_id=job.id if job else "job_missing",
        platform_staff_id=platform_staff_id,
    )


# A form body that fills the fields of most forms, so a view that validates its form before
# scoping would still be caught acting on another tenant's record.
PLAUSIBLE_FORM = {
    "name": "Changed Name",
    "email": "changed@example.com",
    "password": "another long password",
    "new_password": "another long password",
    "confirm": "another long password",
    "role": "admin",
    "credits": "5",
    "quantity": "5",
    "amount": "5.00",
    "reason": "Customer asked",
    "currency": "USD",
    "country": "PT",
    "percent": "5",
    "prepaid_unit_price": "0.05",
    "postpaid_unit_price": "0.05",
    "account": "system",
    "payment_method": "offline",
    "note": "transfer",
    "agree": "y",
    "language": "es",
    "billing_name": "Changed SL",
}


# ---------------------------------------------------------------------------
# Logging in


CSRF_TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def log_in(app, email: str):
    """A fresh client logged in as ``email`` (with the login form's CSRF token if on)."""
    client = app.test_client()
    data = {"email": email, "password": PASSWORD}
    if app.config.get("WTF_CSRF_ENABLED"):
        page = client.get("/login")
        data["csrf_token"] = CSRF_TOKEN.search(page.data).group(1).decode()
    response = client.post("/login", data=data)
    assert response.status_code == 302, (email, response.status_code)
    assert "/login" not in response.headers["Location"], (email, response.headers["Location"])
    return client
