"""The credits page: balances, the chart and the filtered history of movements."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import ValidationFailed
from tenants.credits import chart, movements
from tenants.credits.accounts import (
    AccountLine,
    account_lines,
    manageable,
    purchasable,
    transfer_sources,
)
from tenants.models import Organization
from tenants.views.credits.forms import FilterForm
from tenants.views.organization.change_requests import individual_credits_notice
from tenants.web import browsing
from tenants.web.decorators import actor_required, organization_for_view
from tenants.web.forms import show_service_errors

PAGE_SIZE = 50


def _filter_form(actor: Actor, org: Organization | None, accounts: list[AccountLine]):
    form = FilterForm(formdata=request.args)
    form.type.choices = [("", _("All types"))] + [
        (value.value, str(label)) for value, label in movements.ENTRY_TYPE_LABELS.items()
    ]
    form.account.choices = [("", _("All accounts"))] + [(a.value, a.label) for a in accounts]
    return form


@actor_required(Permission.VIEW_ORGANIZATION)
def index(org_id: str):
    actor, org = organization_for_view(org_id)
    return credits_page(actor, org, "credits/index.html", "credits.index")


def credits_page(actor: Actor, org: Organization, template: str, endpoint: str, **shown):
    """``template`` rendered with the credits page's balances, chart and filtered history
    (the pager links to ``endpoint``, keeping the filters) and ``shown``: the credits page,
    and the Balance & configuration page (balance_configuration.py)."""
    accounts = account_lines(actor, org)
    form = _filter_form(actor, org, accounts)
    filters = browsing.form_filters(form, org)
    try:
        query = movements.movements_query(actor, org, **filters)
    except ValidationFailed as error:
        show_service_errors(form, error)
        filters.pop("account", None)
        query = movements.movements_query(actor, org, **filters)
    page = browsing.requested_page(query, PAGE_SIZE)
    return render_template(
        template,
        org=org,
        accounts=accounts,
        total=sum(a.credits for a in accounts),
        form=form,
        page=page,
        links=browsing.page_links(endpoint, page, org_id=org.id),
        page_endpoint=endpoint,
        names=movements.entry_names(page.entries, org),
        series=chart.daily_series(org) if scoping.sees_every_account(actor) else None,
        can_manage=can(actor, Permission.MANAGE_CREDITS),
        can_withdraw=can(actor, Permission.WITHDRAW_CREDITS),
        can_buy=bool(purchasable(accounts, actor)),
        manageable={a.value for a in manageable(accounts, actor)},
        purchasable={a.value for a in purchasable(accounts, actor)},
        transferable={a.value for a in transfer_sources(actor, org)},
        filtered=bool(filters),
        notice=individual_credits_notice(actor, org),
        **({"active_section": "payment"} | shown),
    )
