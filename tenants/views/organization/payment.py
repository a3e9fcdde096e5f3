"""An organization's Payment section: the credits page when prepaid; when postpaid, what it
owes, its payments, and staff recording a payment (typed, then confirmed) or voiding one.

Registered on the organization blueprint; the Payment tab includes
``organization/_postpaid_payment.html``, which shows the
``payment_section`` the views hand it (postpaid_payment_section below).
"""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.policy import Permission, can, require
from tenants.billing import payments, postpaid, summary
from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.types import currency_places
from tenants.jobs import outbox as queue
from tenants.models import Organization, PricingModel
from tenants.views.organization.blueprint import bp
from tenants.web.decorators import actor_required, organization_for_view, the_actor
from tenants.web.forms import amount_example, parse_amount

# The confirmation page hands the parsed amount back as plain digits ("1000.50"), whatever
# the reader's language: the final step never parses a locale again.
PLAIN_AMOUNT = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,4})?")


def postpaid_payment_section(org: Organization) -> dict:
    """What organization/_postpaid_payment.html shows: amounts, open invoices, payments, and
    whether the actor may record and void payments."""
    actor = the_actor()
    may_record = can(actor, Permission.RECORD_PAYMENTS) and org.status != "deleted"
    return {
        "summary": summary.payment_summary(org),
        "can_record": may_record,
        "can_void": may_record,
        # The final invoice (tenants.billing.final_invoice), for reseller staff.
        "can_close": can(actor, Permission.MANAGE_ORGANIZATION) and org.status != "deleted",
    }


def _payment_page(org: Organization, status: int = 200, **shown):
    """The Payment section; ``shown``: what the record form or a void form re-shows
    (payment_error, payment_amount, payment_reference, void_error, void_payment_id,
    void_reason)."""
    return render_template(
        "organization/payment.html",
        org=org,
        debt=postpaid.organization_debt(org),
        payment_section=postpaid_payment_section(org),
        active_section="payment",
        **shown,
    ), status


def _message(error: DomainError) -> str:
    return " ".join(error.fields.values()) or str(error)


@bp.route("/<org_id>/payment")
@actor_required(Permission.VIEW_ORGANIZATION)
def payment(org_id: str):
    """Prepaid: the credits page. Postpaid: limit and debt (postpaid billing fills it). Back
    from the confirmation, the record form shows what was typed (``amount``, ``reference``)."""
    actor, org = organization_for_view(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.index", org_id=org.id))
    require(actor, Permission.MANAGE_CREDITS)
    return _payment_page(
        org,
        payment_amount=request.args.get("amount", "")[:40],
        payment_reference=request.args.get("reference", "")[:200],
    )


@bp.route("/<org_id>/payments/review", methods=["POST"])
@actor_required(Permission.RECORD_PAYMENTS)
def review_payment(org_id: str):
    """Step one: the amount as typed in the reader's locale, checked and shown formatted for
    confirmation; nothing is recorded."""
    actor, org = organization_for_view(org_id)
    typed = request.form.get("amount", "").strip()
    reference = request.form.get("reference", "")
    try:
        places = currency_places(org.currency)
        draft = payments.review_payment(
            actor, org, parse_amount(typed, "amount", places), reference
        )
    except DomainError as error:
        queue.rollback()
        return _payment_page(
            org,
            error.status,
            payment_error=_message(error),
            payment_amount=typed,
            payment_reference=reference,
        )
    queue.rollback()  # a read: nothing to keep
    return render_template(
        "organization/payment_confirm.html",
        org=org,
        draft=draft,
        plain_amount=format(draft.amount, "f"),
        typed_amount=typed,
        active_section="payment",
    )


@bp.route("/<org_id>/payments", methods=["POST"])
@actor_required(Permission.RECORD_PAYMENTS)
def record_payment(org_id: str):
    """Step two, Confirm: records the amount the confirmation page showed."""
    actor, org = organization_for_view(org_id)
    plain = request.form.get("amount", "").strip()
    reference = request.form.get("reference", "")
    try:
        if not PLAIN_AMOUNT.fullmatch(plain):
            raise ValidationFailed(
                fields={"amount": _("Write the amount like %(example)s.", example=amount_example())}
            )
        payment = payments.record_payment(actor, org, plain, reference)
    except DomainError as error:
        queue.rollback()
        org = scoping.get_organization(actor, org_id)
        return _payment_page(
            org,
            error.status,
            payment_error=_message(error),
            payment_reference=reference,
        )
    amount_text = payments._format_money(payment.amount, payment.currency)
    queue.commit()
    flash(_("Payment of %(amount)s recorded.", amount=amount_text), "success")
    return redirect(url_for("organization.payment", org_id=org_id), code=303)


@bp.route("/<org_id>/payments/<payment_id>/void", methods=["POST"])
@actor_required(Permission.RECORD_PAYMENTS)
def void_payment(org_id: str, payment_id: str):
    """Void a recorded payment, with the reason typed beside it."""
    actor, org = organization_for_view(org_id)
    reason = request.form.get("reason", "")
    try:
        voided = payments.void_payment(actor, org, payment_id, reason)
    except DomainError as error:
        queue.rollback()
        if error.status == 404:
            raise
        org = scoping.get_organization(actor, org_id)
        if not error.fields:  # e.g. already void: the row has no form left to show it by
            flash(str(error), "danger")
            return _payment_page(org, error.status)
        return _payment_page(
            org,
            error.status,
            void_error=_message(error),
            void_payment_id=payment_id,
            void_reason=reason,
        )
    amount_text = payments._format_money(voided.amount, voided.currency)
    queue.commit()
    flash(_("The payment of %(amount)s was voided.", amount=amount_text), "success")
    return redirect(url_for("organization.payment", org_id=org_id), code=303)
