"""An organization's lifecycle: suspend, reactivate, close out (final invoice) and delete it
(reseller staff)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_currency
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.policy import Permission, can
from tenants.billing.final_invoice import issue_final_invoice
from tenants.core.errors import DomainError
from tenants.jobs import outbox as queue
from tenants.organizations import closeout
from tenants.organizations import operations as organizations
from tenants.views.organization.blueprint import bp
from tenants.views.organization.forms import ConfirmForm, SuspendForm
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import show_service_errors


@bp.route("/<org_id>/suspend", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def suspend(org_id: str):
    actor, org = organization_for_view(org_id)
    form = SuspendForm()
    status = 200
    if form.validate_on_submit():
        try:
            organizations.suspend_organization(actor, org, form.reason.data or "")
        except DomainError as error:
            queue.rollback()
            org = scoping.get_organization(actor, org_id)
            show_service_errors(form, error)
            status = error.status
        else:
            queue.commit()
            flash(_("The organization is suspended. Its members can no longer log in."), "success")
            return redirect(url_for("organization.overview", org_id=org.id))
    elif request.method == "POST":
        status = 400
    return render_template(
        "organization/suspend.html", org=org, form=form, active_section="overview"
    ), status


@bp.route("/<org_id>/reactivate", methods=["POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def reactivate(org_id: str):
    actor, org = organization_for_view(org_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        organizations.reactivate_organization(actor, org)
    except DomainError as error:
        queue.rollback()
        flash(str(error), "error")
        return redirect(url_for("organization.overview", org_id=org_id))
    queue.commit()
    flash(_("The organization is active again. Its members can log in."), "success")
    return redirect(url_for("organization.overview", org_id=org.id))


def _close_out_page(actor, org, form, status: int = 200):
    """The delete page: the guided close-out (statement of accounts, unbilled usage with its
    tax, open invoices, credit on account) and the Delete button, enabled when all is zero."""
    return render_template(
        "organization/delete.html",
        org=org,
        form=form,
        statement=closeout.close_out(org),
        can_withdraw=can(actor, Permission.WITHDRAW_CREDITS),
        can_record=can(actor, Permission.RECORD_PAYMENTS),
        active_section="overview",
    ), status


@bp.route("/<org_id>/delete", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def delete(org_id: str):
    actor, org = organization_for_view(org_id)
    form = ConfirmForm()
    status = 200
    if form.validate_on_submit():
        try:
            organizations.delete_organization(actor, org)
        except DomainError as error:
            queue.rollback()
            org = scoping.get_organization(actor, org_id)
            flash(str(error), "danger")
            status = error.status
        else:
            name = org.name
            queue.commit()
            flash(_("The organization %(name)s was deleted.", name=name), "success")
            return redirect(url_for("customers.index"))
    elif request.method == "POST":
        status = 400
    return _close_out_page(actor, org, form, status)


# Where the final invoice's button sends the reader back to.
FINAL_INVOICE_RETURNS = {"delete": "organization.delete", "payment": "organization.payment"}


@bp.route("/<org_id>/final-invoice", methods=["POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def final_invoice(org_id: str):
    actor, org = organization_for_view(org_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    back = url_for(
        FINAL_INVOICE_RETURNS.get(request.form.get("back", ""), "organization.delete"),
        org_id=org_id,
    )
    try:
        invoice = issue_final_invoice(actor, org)
    except DomainError as error:
        queue.rollback()
        flash(str(error), "danger")
        return redirect(back, code=303)
    message = _(
        "Final invoice %(number)s issued for %(total)s. It was emailed to the billing contact.",
        number=invoice.number,
        total=format_currency(invoice.total, invoice.currency),
    )
    queue.commit()
    flash(message, "success")
    return redirect(back, code=303)
