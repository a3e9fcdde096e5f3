"""An organization's Payment section: the credits page when prepaid; when postpaid, what it
owes and staff recording a payment.

Registered on the organization blueprint; the Payment tab includes
``organization/_postpaid_payment.html``, which shows the
``payment_section`` the views hand it (postpaid_payment_section below).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.policy import Permission, can, require
from tenants.billing import payments, postpaid, summary
from tenants.core.errors import DomainError
from tenants.jobs import outbox as queue
from tenants.models import Organization, PricingModel
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view, the_actor
from tenants.web.forms import parse_amount


def postpaid_payment_section(org: Organization) -> dict:
    """What organization/_postpaid_payment.html shows: amounts, open invoices, payments, and
    whether the actor may record a payment."""
    actor = the_actor()
    return {
        "summary": summary.payment_summary(org),
        "can_record": can(actor, Permission.RECORD_PAYMENTS) and org.status != "deleted",
        # The final invoice (tenants.billing.final_invoice), for reseller staff.
        "can_close": can(actor, Permission.MANAGE_ORGANIZATION) and org.status != "deleted",
    }


@bp.route("/<org_id>/payment")
@actor_required(Permission.VIEW_ORGANIZATION)
def payment(org_id: str):
    """Prepaid: the credits page. Postpaid: limit and debt (postpaid billing fills it)."""
    actor, org = organization_for_view(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.index", org_id=org.id))
    require(actor, Permission.MANAGE_CREDITS)
    return render_template(
        "organization/payment.html",
        org=org,
        debt=postpaid.organization_debt(org),
        payment_section=postpaid_payment_section(org),
        active_section="payment",
    )


@bp.route("/<org_id>/payments", methods=["POST"])
@actor_required(Permission.RECORD_PAYMENTS)
def record_payment(org_id: str):
    actor, org = organization_for_view(org_id)
    amount = request.form.get("amount", "").strip()
    reference = request.form.get("reference", "")
    try:
        # Typed in the reader's locale ("1.500,50" in Spanish); empty or garbled goes to the
        # service as typed, which says what is wrong.
        typed = parse_amount(amount) if amount else amount
        payment = payments.record_payment(actor, org, typed, reference)
    except DomainError as error:
        queue.rollback()
        org = scoping.get_organization(actor, org_id)
        message = " ".join(error.fields.values()) or str(error)
        return render_template(
            "organization/payment.html",
            org=org,
            debt=postpaid.organization_debt(org),
            payment_section=postpaid_payment_section(org),
            active_section="payment",
            payment_error=message,
            payment_amount=amount,
            payment_reference=reference,
        ), error.status
    amount_text = payments._format_money(payment.amount, payment.currency)
    queue.commit()
    flash(_("Payment of %(amount)s recorded.", amount=amount_text), "success")
    return redirect(url_for("organization.payment", org_id=org_id), code=303)
