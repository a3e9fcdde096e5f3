"""The Customer app's campaigns waiting for approval (across the reseller's customers), and
the reseller's setting "campaigns need approval"; each is approved or rejected on its
organization's campaign page."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SubmitField

from reseller.customers.blueprint import bp
from tenants.access.campaign_scoping import pending_campaigns_query
from tenants.access.policy import Permission, can
from tenants.campaigns.listing import REPEAT_LABELS, campaign_lines
from tenants.core.errors import DomainError
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import Campaign, Organization
from tenants.resellers.operations import set_campaigns_need_approval
from tenants.web.decorators import actor_required, current_reseller
from tenants.web.forms import Form, show_service_errors

LISTED = 200


class ApprovalSettingForm(Form):
    campaigns_need_approval = BooleanField(_l("Customers' campaigns need my approval"))
    save = SubmitField(_l("Save"))


@bp.route("/campaigns", methods=["GET", "POST"])
@actor_required(Permission.APPROVE_CAMPAIGNS)
def pending_campaigns():
    actor, reseller = current_reseller()
    form = ApprovalSettingForm()
    may_set = can(actor, Permission.MANAGE_RESELLER_SETTINGS)
    if request.method == "POST" and not may_set:
        abort(403)  # agents approve campaigns; the setting is the admins'
    if form.validate_on_submit():
        try:
            changed = set_campaigns_need_approval(
                actor, reseller, form.campaigns_need_approval.data
            )
        except DomainError as error:
            rollback()
            show_service_errors(form, error)
        else:
            commit()
            if changed:
                flash(_("The approval setting is saved."), "success")
            return redirect(url_for(".pending_campaigns"))
    form.campaigns_need_approval.data = reseller.campaigns_need_approval
    rows = db.session.execute(
        pending_campaigns_query(actor, reseller.id)
        .add_columns(Organization.name)
        .join(Organization, Organization.id == Campaign.organization_id)
        .order_by(Campaign.created_at, Campaign.id)
        .limit(LISTED)
    ).all()
    lines = campaign_lines([row[0] for row in rows])
    return render_template(
        "customers/campaigns.html",
        rows=list(zip(lines, [row[1] for row in rows], strict=True)),
        form=form,
        may_set=may_set,
        repeats=REPEAT_LABELS,
    )
