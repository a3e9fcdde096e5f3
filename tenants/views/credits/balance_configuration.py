"""Balance & configuration (seed 003): one page, from the main navigation, with the balance,
Buy credits, the account configuration and the movement history, in that order.

The balance and the history are the credits page's (balance.py); the configuration is the
settings page's form, saved the same way (tenants.views.organization.settings). Registered by
the table in __init__.py.
"""

from __future__ import annotations

from flask import redirect, url_for

from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.billing import postpaid
from tenants.models import Organization, PricingModel
from tenants.views.credits.balance import credits_page
from tenants.views.organization.forms import ConfigurationForm
from tenants.views.organization.settings import configuration_form, save_settings_form
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import refusal_status


def _page(actor: Actor, org: Organization, form: ConfigurationForm | None) -> str:
    may_edit = can(actor, Permission.EDIT_ORGANIZATION_SETTINGS)
    return credits_page(
        actor,
        org,
        "credits/balance.html",
        "credits.balance",
        active_section=None,  # reached from the main navigation, not from a tab
        configuration=form if may_edit else None,
        can_edit_auto_top_up=may_edit,
        debt=postpaid.organization_debt(org)
        if org.pricing_model == PricingModel.POSTPAID
        else None,
    )


@actor_required(Permission.VIEW_ORGANIZATION)
def balance(org_id: str):
    actor, org = organization_for_view(org_id)
    return _page(actor, org, configuration_form(org))


@actor_required(Permission.EDIT_ORGANIZATION_SETTINGS)
def save_balance_configuration(org_id: str):
    actor, org = organization_for_view(org_id)
    form = configuration_form(org, posted=True)
    refused = save_settings_form(actor, org, "configuration", form)
    if refused is None:
        return redirect(url_for("credits.balance", org_id=org_id) + "#configuration")
    return _page(actor, refused, form), refusal_status() or 422
