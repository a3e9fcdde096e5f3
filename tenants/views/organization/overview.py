"""An organization's Overview section: members, owner, balance or debt, and its chart."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from tenants.access import scoping
from tenants.access.policy import Permission, can
from tenants.billing import postpaid
from tenants.core.extensions import db
from tenants.credits import chart, forecast, ledger
from tenants.models import PricingModel
from tenants.notify import recipients
from tenants.views.organization.blueprint import bp
from tenants.views.organization.change_requests import individual_credits_notice
from tenants.views.organization.forms import ConfirmForm
from tenants.web.decorators import actor_required, organization_for_view


@bp.route("/<org_id>/")
@actor_required(Permission.VIEW_ORGANIZATION)
def overview(org_id: str):
    actor, org = organization_for_view(org_id)
    member_count = db.session.scalar(
        select(func.count()).select_from(scoping.members_query(actor, org).subquery())
    )
    owner = recipients.owner_of(org)
    prepaid = org.pricing_model == PricingModel.PREPAID
    # The pool's balance and chart are for those who read every account (credits page rule).
    sees_all = scoping.sees_every_account(actor)
    return render_template(
        "organization/overview.html",
        org=org,
        member_count=member_count,
        owner=owner,
        prepaid=prepaid,
        sees_all=sees_all,
        # Available: what campaigns hold reserved is not (ledger.Balance.available_credits).
        total_credits=ledger.balance(org).available_credits if prepaid and sees_all else None,
        series=chart.daily_series(org) if prepaid and sees_all else None,
        debt=postpaid.organization_debt(org) if not prepaid else None,
        # Stored with the organization (tenants.credits.forecast): no ledger read here.
        show_forecast=sees_all or not prepaid,
        forecast=forecast.forecast_of(org),
        can_manage=can(actor, Permission.MANAGE_ORGANIZATION),
        confirm_form=ConfirmForm(),
        notice=individual_credits_notice(actor, org),
        active_section="overview",
    )
