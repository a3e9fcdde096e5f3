"""An organization's Settings section: general information, billing, balance and
configuration, and the reseller's terms, each its own form."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import DomainError
from tenants.core.types import currency_places
from tenants.credits import topups
from tenants.credits.ledger import member_credits_total
from tenants.credits.movements import credits_phrase
from tenants.jobs import outbox as queue
from tenants.models import Organization
from tenants.organizations import operations as organizations
from tenants.organizations.fields import editable_paths
from tenants.views.organization.blueprint import bp
from tenants.views.organization.forms import (
    AutoTopUpForm,
    BillingForm,
    ConfigurationForm,
    ConfirmForm,
    GeneralForm,
    ResellerTermsForm,
)
from tenants.views.organization.saved_card import saved_card_section
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import (
    fill_place_choices,
    parse_amount,
    refusal_status,
    show_service_errors,
    whole_number,
)


def _settings_forms(org: Organization, posted: str | None = None) -> dict:
    """The settings page's forms filled from the organization, except the one being posted."""
    forms = {
        "general": GeneralForm(prefix="general", formdata=None),
        "billing": BillingForm(prefix="billing", formdata=None),
        "configuration": ConfigurationForm(prefix="configuration", formdata=None),
        "terms": ResellerTermsForm(prefix="terms", formdata=None),
        "auto_top_up": AutoTopUpForm(prefix="auto_top_up", formdata=None),
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
        "configuration": {
            "sender_name": org.sender_name or "",
            "notification_email": org.notification_email or "",
            "notification_mobile": org.notification_mobile or "",
            "low_balance_alert": "yes" if org.low_balance_alert else "no",
            "low_balance_threshold": str(org.low_balance_threshold),
            "alert_email": org.alert_email or "",
            "forecast_alert_days": str(org.forecast_alert_days or ""),
        },
        "terms": {
            "credit_limit": format_decimal(org.credit_limit or 0, format="0.####"),
            "individual_user_credits": org.individual_user_credits,
        },
        "auto_top_up": {
            "enabled": "yes" if org.auto_top_up_enabled else "no",
            "below": str(org.auto_top_up_below),
            "credits": str(org.auto_top_up_credits),
            "monthly_limit": str(topups.monthly_limit(org)),
        },
    }
    if posted != "billing":
        forms["billing"].fill(org)
    for key, values in initial.items():
        if key == posted:
            continue
        for name, value in values.items():
            getattr(forms[key], name).data = value
    return forms


def configuration_form(org: Organization, *, posted: bool = False) -> ConfigurationForm:
    """The account configuration form, filled from the organization unless ``posted``."""
    return _settings_forms(org, posted="configuration" if posted else None)["configuration"]


def _render_settings(actor, org, forms, status: int = 200):
    editable = editable_paths(actor)
    can_edit_terms = "credit_limit" in editable
    return (
        render_template(
            "organization/settings.html",
            org=org,
            forms=forms,
            can_edit_general="name" in editable,
            can_edit_terms=can_edit_terms,
            # What members hold stops the switch-off; the terms card offers to move it.
            member_credits=member_credits_total(org)
            if can_edit_terms and org.individual_user_credits
            else 0,
            switch_off_form=ConfirmForm(),
            pricing_model_locked=organizations.pricing_model_locked(org),
            # The API keys page asks the same permission (tenants.views.api_keys).
            can_manage_api_keys=can(actor, Permission.EDIT_ORGANIZATION_SETTINGS),
            saved_card=saved_card_section(org),
            can_edit_auto_top_up="auto_top_up.enabled" in editable,
            active_section="settings",
        ),
        status,
    )


@bp.route("/<org_id>/settings")
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def settings(org_id: str):
    actor, org = organization_for_view(org_id)
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
    if key in ("billing", "auto_top_up"):
        return form.values()
    if key == "configuration":
        alert = form.low_balance_alert.data
        return {
            "settings.sender_name": form.sender_name.data or None,
            "settings.notification_email": form.notification_email.data or None,
            "settings.notification_mobile": form.notification_mobile.data or None,
            "settings.low_balance_alert": alert == "yes" if alert in ("yes", "no") else alert,
            "settings.low_balance_threshold": whole_number(form.low_balance_threshold.data),
            "settings.alert_email": form.alert_email.data or None,
            "settings.forecast_alert_days": whole_number(form.forecast_alert_days.data)
            if (form.forecast_alert_days.data or "").strip()
            else None,
        }
    values = {"individual_user_credits": bool(form.individual_user_credits.data)}
    if f"{form._prefix}credit_limit" in request.form:  # shown for postpaid organizations only
        places = currency_places(org.currency)
        values["credit_limit"] = parse_amount(form.credit_limit.data, "credit_limit", places)
    return values


SETTINGS_FORMS = {
    "general": Permission.MANAGE_ORGANIZATION,
    "billing": Permission.EDIT_ORGANIZATION_SETTINGS,
    "configuration": Permission.EDIT_ORGANIZATION_SETTINGS,
    "terms": Permission.MANAGE_ORGANIZATION,
    "auto_top_up": Permission.EDIT_ORGANIZATION_SETTINGS,
}

SAVED = {
    "general": _l("General information saved."),
    "billing": _l("Billing information saved."),
    "configuration": _l("Balance & configuration saved."),
    "terms": _l("Terms saved."),
    "auto_top_up": _l("Automatic top-up saved."),
}


def save_settings_form(actor: Actor, org: Organization, key: str, form) -> Organization | None:
    """The posted settings form ``key`` through update_organization, committed with a flash
    saying so: None. Refused (the errors placed on the form, the status kept for the page):
    the organization as it is again after the rollback, for the page to show."""
    if not form.validate_on_submit():
        return org
    org_id = org.id  # read before a rollback expires it
    try:
        changes = organizations.update_organization(actor, org, _form_values(key, form, org))
    except DomainError as error:
        queue.rollback()
        org = scoping.get_organization(actor, org_id)
        if key == "general":
            fill_place_choices(form)
        show_service_errors(form, error)
        return org
    queue.commit()
    flash(str(SAVED[key]) if changes else _("Nothing changed."), "success")
    return None


@bp.route("/<org_id>/settings/<key>", methods=["POST"])
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def save_settings(org_id: str, key: str):
    actor, org = organization_for_view(org_id)
    if key not in SETTINGS_FORMS:
        abort(404)
    if not can(actor, SETTINGS_FORMS[key]):
        abort(403)
    forms = _settings_forms(org, posted=key)
    refused = save_settings_form(actor, org, key, forms[key])
    if refused is not None:
        return _render_settings(actor, refused, forms, refusal_status() or 422)
    return redirect(url_for("organization.settings", org_id=org.id) + f"#{key}")


@bp.route("/<org_id>/settings/individual-credits-off", methods=["POST"])
@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def switch_off_individual_credits(org_id: str):
    """Move them all to the pool and switch off: one step, from the reseller terms card."""
    actor, org = organization_for_view(org_id)
    if not can(actor, SETTINGS_FORMS["terms"]):
        abort(403)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        changes = organizations.update_organization(
            actor, org, {"individual_user_credits": False}, move_member_credits_to_pool=True
        )
    except DomainError as error:
        queue.rollback()
        flash(str(error), "danger")
    else:
        queue.commit()
        returned = changes.get("credits_returned", [None, 0])[1]
        flash(
            _(
                "Individual user credits are off; the system pool received the members' "
                "%(credits)s.",
                credits=credits_phrase(returned),
            )
            if returned
            else _("Individual user credits are off."),
            "success",
        )
    return redirect(url_for("organization.settings", org_id=org_id) + "#terms")
