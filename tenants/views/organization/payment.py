"""A postpaid organization's Payment section: what it owes, and staff recording a payment.

Registered on the organization blueprint; the Payment tab includes
``organization/_postpaid_payment.html``, which reads ``postpaid_payment_section(org)``
(tenants.web.templating).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants import balances
from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.billing import postpaid as billing
from tenants.core.errors import DomainError
from tenants.jobs import outbox as queue
from tenants.views.organization import bp
from tenants.web.decorators import actor_required, the_actor
from tenants.web.locale import use_organization_timezone


@bp.route("/<org_id>/payments", methods=["POST"])
@actor_required(Permission.RECORD_PAYMENTS)
def record_payment(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    amount = request.form.get("amount", "").strip().replace(",", ".")
    reference = request.form.get("reference", "")
    try:
        payment = billing.record_payment(actor, org, amount, reference)
    except DomainError as error:
        queue.rollback()
        org = scoping.get_organization(actor, org_id)
        message = " ".join(error.fields.values()) or str(error)
        return render_template(
            "organization/payment.html",
            org=org,
            debt=balances.organization_debt(org),
            active_section="payment",
            payment_error=message,
            payment_amount=amount,
            payment_reference=reference,
        ), error.status
    amount_text = billing._format_money(payment.amount, payment.currency)
    queue.commit()
    flash(_("Payment of %(amount)s recorded.", amount=amount_text), "success")
    return redirect(url_for("organization.payment", org_id=org_id), code=303)
