"""The purchase flow's billing step (seed 001: "enter the quantity, billing details and select
Proceed"): the organization's billing details, edited before paying, then back to the order.

Whoever may edit the billing details (tenants.access.policy: EDIT_ORGANIZATION_SETTINGS) gets
the Settings page's billing form; a member buying for their own account is told whom to ask.
The order (account, credits) rides along in the address and in hidden fields, and is quoted
again on the way back (purchase.review_purchase).
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError, Forbidden
from tenants.credits.accounts import account_lines, purchasable
from tenants.jobs.outbox import commit
from tenants.notify import recipients
from tenants.organizations import operations as organizations
from tenants.views.credits.forms import PurchaseBillingForm, _refused
from tenants.web.decorators import actor_required, organization_for_view


@actor_required(Permission.VIEW_ORGANIZATION)
def purchase_billing(org_id: str):
    actor, org = organization_for_view(org_id)
    if not purchasable(account_lines(actor, org), actor):
        raise Forbidden()
    source = request.form if request.method == "POST" else request.args
    order = {"account": source.get("account", ""), "credits": source.get("credits", "")}
    if not can(actor, Permission.EDIT_ORGANIZATION_SETTINGS):
        if request.method == "POST":
            raise Forbidden()
        return _render(org, None, order)
    if request.method == "GET":
        form = PurchaseBillingForm(formdata=None)
        form.fill(org)
        form.account.data, form.credits.data = order["account"], order["credits"]
        return _render(org, form, order)
    form = PurchaseBillingForm()
    if form.validate_on_submit():
        try:
            changes = organizations.update_organization(actor, org, form.values())
        except DomainError as error:
            _refused(form, error)
        else:
            commit()
            flash(
                _("Billing details saved.") if changes else _("Nothing changed."),
                "success",
            )
            return redirect(url_for(".review_purchase", org_id=org.id, **order))
    return _render(org, form, order)


def _render(org, form: PurchaseBillingForm | None, order: dict[str, str]):
    return render_template(
        "credits/purchase_billing.html",
        org=org,
        form=form,
        order=order,
        billing_contacts=[] if form is not None else recipients.admins_of(org),
        active_section="payment",
    )
