"""The final invoice of a postpaid organization being closed: every unbilled charge, now.

Reseller staff suspend the organization (nothing more can be charged), then issue it; once
it is paid, nothing is owed and the organization can be deleted (SPEC §2, the guided
close-out). It is the monthly run's batch of one (tenants.billing.monthly_batch) with an
end of "now" instead of a month's end: numbered from the same gapless sequence, emailed
and audited like a monthly invoice, its period the organization's current month, which it
closes — usage after a reactivation goes on the next month's invoice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import set_committed_value

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.billing.monthly_batch import _invoice_batch
from tenants.billing.periods import next_period, period_of
from tenants.billing.postpaid import _lock_account, ensure_account
from tenants.core.errors import (
    NothingToInvoice,
    NotPostpaid,
    OrganizationActive,
    OrganizationClosed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models import Charge, Invoice, Organization, OrganizationStatus, PricingModel


def _current_status(org: Organization) -> OrganizationStatus:
    status = db.session.scalar(select(Organization.status).where(Organization.id == org.id))
    set_committed_value(org, "status", status)
    return status


def _end(org: Organization, now: datetime) -> datetime:
    """Now, or just after the latest charge when it is stamped later (usage may be dated up
    to a few minutes ahead of the clock): every charge lands on the invoice."""
    latest = db.session.scalar(
        select(func.max(Charge.occurred_at)).where(Charge.organization_id == org.id)
    )
    if latest is not None and latest >= now:
        return latest + timedelta(microseconds=1)
    return now


def issue_final_invoice(actor: Actor, org: Organization, *, now: datetime | None = None) -> Invoice:
    """Invoice every unbilled charge of a suspended postpaid organization up to now.

    Reseller staff and reseller keys only; 409 ``not_postpaid``, ``organization_active``
    (suspend it first) or ``nothing_to_invoice``. Months before the current one still open
    get their own invoices first (as the monthly run would); the one returned is the
    current month's. The caller commits.
    """
    require(actor, Permission.MANAGE_ORGANIZATION)
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    ensure_account(org)
    account = _lock_account(org.id)  # usage, payments and the monthly run wait
    status = _current_status(org)
    if status == OrganizationStatus.DELETED:
        raise OrganizationClosed()
    if status != OrganizationStatus.SUSPENDED:
        raise OrganizationActive()
    if not account.unbilled_credits:
        raise NothingToInvoice()
    end = _end(org, now or utcnow())
    period = period_of(end, org.timezone)
    if account.closed_period and account.closed_period >= period:
        # This month already has its (final) invoice: what followed goes on the next.
        period = next_period(account.closed_period)
    issued = _invoice_batch([org.id], period, end, until=end).get(org.id, [])
    if not issued:
        raise NothingToInvoice()
    debt = db.session.scalar(select(Organization.debt).where(Organization.id == org.id))
    set_committed_value(org, "debt", debt)
    invoice = db.session.get(Invoice, issued[-1][1])
    audit.record(
        actor,
        "invoice.final_issued",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="invoice",
        target_id=invoice.id,
        changes={
            "number": [None, invoice.number],
            "period": [None, invoice.period],
            "total": [None, str(invoice.total)],
            "invoices": [None, [invoice_id for _month, invoice_id in issued]],
        },
    )
    db.session.flush()
    return invoice
