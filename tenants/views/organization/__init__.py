"""An organization's sections (Customer app "View" and the organization's own pages)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, tuple_

from tenants import balances
from tenants.access import scoping
from tenants.access.policy import Permission, can, require
from tenants.audit import labels as audit_labels
from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.extensions import db
from tenants.credits import movements
from tenants.credits import operations as credits
from tenants.invoices import documents as invoices
from tenants.jobs import outbox as queue
from tenants.models import AuditEntry, Organization, PricingModel, User
from tenants.notify import recipients
from tenants.organizations import operations as organizations
from tenants.views.organization.forms import (
    BillingForm,
    ConfigurationForm,
    ConfirmForm,
    GeneralForm,
    ResellerTermsForm,
    SuspendForm,
    amount,
    fill_place_choices,
    whole_number,
)
from tenants.web.decorators import actor_required, apply_field_errors, the_actor
from tenants.web.locale import use_organization_timezone

bp = Blueprint("organization", __name__, url_prefix="/organizations")

AUDIT_PAGE_SIZE = 50
INVOICE_PAGE_SIZE = 50


def _organization(org_id: str):
    actor = the_actor()
    org = scoping.get_organization(actor, org_id)
    use_organization_timezone(org)
    return actor, org


def show_field_errors(form, error: DomainError) -> None:
    """Put a service's errors (keyed by API paths) next to the form's fields; flash the rest."""
    paths = getattr(form, "paths", {})
    mapped, unplaced = {}, []
    for path, message in error.fields.items():
        name = paths.get(path)
        if name is not None and hasattr(form, name):
            mapped[name] = message
        else:
            unplaced.append(message)
    apply_field_errors(form, ValidationFailed(fields=mapped))
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or str(error), "error")


@bp.route("/<org_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def overview(org_id: str):
    actor, org = _organization(org_id)
    member_count = db.session.scalar(
        select(func.count()).select_from(scoping.members_query(actor, org).subquery())
    )
    owner = recipients.owner_of(org)
    prepaid = org.pricing_model == PricingModel.PREPAID
    # The pool's balance and chart are for those who read every account (credits page rule).
    sees_all = movements.sees_every_account(actor)
    return render_template(
        "organization/overview.html",
        org=org,
        member_count=member_count,
        owner=owner,
        prepaid=prepaid,
        sees_all=sees_all,
        total_credits=credits.balance(org).total_credits if prepaid and sees_all else None,
        series=movements.daily_series(org) if prepaid and sees_all else None,
        debt=balances.organization_debt(org) if not prepaid else None,
        can_manage=can(actor, Permission.MANAGE_ORGANIZATION),
        confirm_form=ConfirmForm(),
        active_section="overview",
    )


@bp.route("/<org_id>/payment")
@actor_required(Permission.VIEW_ORGANIZATION)
def payment(org_id: str):
    """Prepaid: the credits page. Postpaid: limit and debt (postpaid billing fills it)."""
    actor, org = _organization(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.index", org_id=org.id))
    require(actor, Permission.MANAGE_CREDITS)
    return render_template(
        "organization/payment.html",
        org=org,
        debt=balances.organization_debt(org),
        active_section="payment",
    )


# -- settings -------------------------------------------------------------------------------


def _settings_forms(org: Organization, posted: str | None = None) -> dict:
    """The settings page's forms filled from the organization, except the one being posted."""
    forms = {
        "general": GeneralForm(prefix="general", formdata=None),
        "billing": BillingForm(prefix="billing", formdata=None),
        "configuration": ConfigurationForm(prefix="configuration", formdata=None),
        "terms": ResellerTermsForm(prefix="terms", formdata=None),
    }
    if posted:
        forms[posted] = type(forms[posted])(prefix=posted)
    fill_place_choices(forms["general"])
    initial = {
        "general": {
            "name": org.name,
            "country": org.country,
            "currency": org.currency,
            "timezone": org.timezone,
            "pricing_model": org.pricing_model.value,
        },
        "billing": {
            "billing_type": org.billing_type.value,
            "billing_name": org.billing_name or "",
            "billing_address": org.billing_address or "",
            "billing_tax_id": org.billing_tax_id or "",
            "billing_email": org.billing_email or "",
        },
        "configuration": {
            "sender_name": org.sender_name or "",
            "notification_email": org.notification_email or "",
            "notification_mobile": org.notification_mobile or "",
            "low_balance_alert": "yes" if org.low_balance_alert else "no",
            "low_balance_threshold": str(org.low_balance_threshold),
            "alert_email": org.alert_email or "",
        },
        "terms": {
            "credit_limit": str(org.credit_limit.normalize()) if org.credit_limit else "0",
            "individual_user_credits": org.individual_user_credits,
        },
    }
    for key, values in initial.items():
        if key == posted:
            continue
        for name, value in values.items():
            getattr(forms[key], name).data = value
    return forms


def _render_settings(actor, org, forms, status: int = 200):
    editable = organizations.editable_paths(actor)
    return (
        render_template(
            "organization/settings.html",
            org=org,
            forms=forms,
            can_edit_general="name" in editable,
            can_edit_terms="credit_limit" in editable,
            pricing_model_locked=organizations.pricing_model_locked(org),
            # The API keys page asks the same permission (tenants.views.api_keys).
            can_manage_api_keys=can(actor, Permission.EDIT_ORGANIZATION_SETTINGS),
            active_section="settings",
        ),
        status,
    )


@bp.route("/<org_id>/settings")
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def settings(org_id: str):
    actor, org = _organization(org_id)
    return _render_settings(actor, org, _settings_forms(org))


def _form_values(key: str, form, org: Organization) -> dict:
    """The posted form as update_organization's values, keyed by API paths."""
    if key == "general":
        values = {
            "name": form.name.data or "",
            "country": form.country.data or "",
            "currency": form.currency.data or "",
            "timezone": form.timezone.data or "",
        }
        # A locked pricing model is shown disabled, so the browser does not send it.
        if f"{form._prefix}pricing_model" in request.form:
            values["pricing_model"] = form.pricing_model.data or ""
        return values
    if key == "billing":
        return {
            "billing.type": form.billing_type.data or "",
            "billing.name": form.billing_name.data or None,
            "billing.address": form.billing_address.data or None,
            "billing.tax_id": form.billing_tax_id.data or None,
            "billing.email": form.billing_email.data or None,
        }
    if key == "configuration":
        alert = form.low_balance_alert.data
        return {
            "settings.sender_name": form.sender_name.data or None,
            "settings.notification_email": form.notification_email.data or None,
            "settings.notification_mobile": form.notification_mobile.data or None,
            "settings.low_balance_alert": alert == "yes" if alert in ("yes", "no") else alert,
            "settings.low_balance_threshold": whole_number(form.low_balance_threshold.data),
            "settings.alert_email": form.alert_email.data or None,
        }
    values = {"individual_user_credits": bool(form.individual_user_credits.data)}
    if f"{form._prefix}credit_limit" in request.form:  # shown for postpaid organizations only
        values["credit_limit"] = amount(form.credit_limit.data)
    return values


SETTINGS_FORMS = {
    "general": Permission.MANAGE_ORGANIZATION,
    "billing": Permission.EDIT_ORGANIZATION_SETTINGS,
    "configuration": Permission.EDIT_ORGANIZATION_SETTINGS,
    "terms": Permission.MANAGE_ORGANIZATION,
}


@bp.route("/<org_id>/settings/<key>", methods=["POST"])
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def save_settings(org_id: str, key: str):
    actor, org = _organization(org_id)
    if key not in SETTINGS_FORMS:
        abort(404)
    if not can(actor, SETTINGS_FORMS[key]):
        abort(403)
    forms = _settings_forms(org, posted=key)
    form = forms[key]
    if not form.validate_on_submit():
        return _render_settings(actor, org, forms, 422)
    try:
        changes = organizations.update_organization(actor, org, _form_values(key, form, org))
    except DomainError as error:
        queue.rollback()
        org = scoping.get_organization(actor, org_id)
        if key == "general":
            fill_place_choices(form)
        show_field_errors(form, error)
        return _render_settings(actor, org, forms, error.status)
    queue.commit()
    messages = {
        "general": _("General information saved."),
        "billing": _("Billing information saved."),
        "configuration": _("Balance & configuration saved."),
        "terms": _("Terms saved."),
    }
    flash(messages[key] if changes else _("Nothing changed."), "success")
    return redirect(url_for("organization.settings", org_id=org.id) + f"#{key}")


# -- lifecycle ------------------------------------------------------------------------------


@bp.route("/<org_id>/suspend", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def suspend(org_id: str):
    actor, org = _organization(org_id)
    form = SuspendForm()
    status = 200
    if form.validate_on_submit():
        try:
            organizations.suspend_organization(actor, org, form.reason.data or "")
        except DomainError as error:
            queue.rollback()
            org = scoping.get_organization(actor, org_id)
            show_field_errors(form, error)
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
    actor, org = _organization(org_id)
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


@bp.route("/<org_id>/delete", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_ORGANIZATION)
def delete(org_id: str):
    actor, org = _organization(org_id)
    form = ConfirmForm()
    status = 200
    if form.validate_on_submit():
        try:
            organizations.delete_organization(actor, org)
        except DomainError as error:
            queue.rollback()
            org = scoping.get_organization(actor, org_id)
            flash(str(error), "error")
            status = error.status
        else:
            name = org.name
            queue.commit()
            flash(_("The organization %(name)s was deleted.", name=name), "success")
            return redirect(url_for("customers.index"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "organization/delete.html", org=org, form=form, active_section="overview"
    ), status


# -- logs and invoices ----------------------------------------------------------------------


@bp.route("/<org_id>/logs")
@actor_required(Permission.VIEW_ORGANIZATION)
def logs(org_id: str):
    """Prepaid: the last 30 days log of credits. Postpaid holds no credits to log."""
    _actor, org = _organization(org_id)
    if org.pricing_model == PricingModel.PREPAID:
        return redirect(url_for("credits.log", org_id=org.id))
    return render_template("organization/logs.html", org=org, active_section="logs")


@bp.route("/<org_id>/invoices", endpoint="invoices")
@actor_required(Permission.MANAGE_CREDITS)
def invoices_list(org_id: str):
    actor, org = _organization(org_id)
    cursor = request.args.get("cursor", "")
    try:
        page = invoices.invoice_page(actor, org, limit=INVOICE_PAGE_SIZE, cursor=cursor or None)
    except ValidationFailed:
        abort(404)
    return render_template(
        "organization/invoices.html",
        org=org,
        page=page,
        first_page=not cursor,
        active_section="invoices",
    )


@bp.route("/<org_id>/invoices/<invoice_id>")
@actor_required(Permission.MANAGE_CREDITS)
def invoice(org_id: str, invoice_id: str):
    actor, org = _organization(org_id)
    found = scoping.get_invoice(actor, invoice_id, org)
    return render_template(
        "organization/invoice.html",
        org=org,
        invoice=found,
        lines=invoices.invoice_lines(found),
        active_section="invoices",
    )


# -- audit ----------------------------------------------------------------------------------


def _audit_cursor(entry: AuditEntry) -> str:
    payload = json.dumps([entry.created_at.isoformat(), entry.id])
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _audit_position(cursor: str) -> tuple[datetime, str] | None:
    try:
        created, entry_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), str(entry_id)
    except (binascii.Error, ValueError, TypeError):
        return None


@bp.route("/<org_id>/audit")
@actor_required(Permission.VIEW_AUDIT)
def audit(org_id: str):
    _actor, org = _organization(org_id)
    query = select(AuditEntry).where(
        AuditEntry.organization_id == org.id, AuditEntry.reseller_id == org.reseller_id
    )
    cursor = request.args.get("cursor", "")
    if cursor:
        position = _audit_position(cursor[:500])
        if position is None or position[0].tzinfo is None:
            abort(404)
        query = query.where(tuple_(AuditEntry.created_at, AuditEntry.id) < position)
    query = query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
    entries = list(db.session.scalars(query.limit(AUDIT_PAGE_SIZE + 1)))
    next_cursor = (
        _audit_cursor(entries[AUDIT_PAGE_SIZE - 1]) if len(entries) > AUDIT_PAGE_SIZE else None
    )
    entries = entries[:AUDIT_PAGE_SIZE]
    user_ids = {e.actor_user_id for e in entries} | {e.real_user_id for e in entries}
    user_ids.discard(None)
    people = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    return render_template(
        "organization/audit.html",
        org=org,
        entries=entries,
        people=people,
        next_cursor=next_cursor,
        first_page=not cursor,
        labels=audit_labels,
        active_section="audit",
    )


# Section routes registered on this blueprint: the postpaid Payment section, the saved card.
import tenants.views.organization.payment  # noqa: E402
import tenants.views.organization.saved_card  # noqa: E402, F401
