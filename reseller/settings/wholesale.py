"""Reseller settings: the wholesale pool — its credits, forecast and lots, and the low-pool
alert's level (reseller admins are emailed once when the pool crosses it)."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import StringField, SubmitField

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import ValidationFailed
from tenants.jobs.outbox import commit, rollback
from tenants.web.decorators import actor_required, current_reseller, the_actor
from tenants.web.forms import Form, show_service_errors, whole_number
from tenants.wholesale import operations as wholesale
from tenants.wholesale.pool import pool_summary, recent_lots


class LowPoolForm(Form):
    low_balance_threshold = StringField(
        _l("Alert me when the pool is at or below (credits)"),
        description=_l(
            "Reseller admins get one email each time the pool drops to it. 0: no alert."
        ),
    )
    submit = SubmitField(_l("Save"))


def _page(form: LowPoolForm, status: int = 200):
    reseller = current_reseller()[1]
    return (
        render_template(
            "reseller_settings/wholesale.html",
            form=form,
            pool=pool_summary(reseller.id),
            lots=recent_lots(reseller.id),
            active_tab="wholesale",
        ),
        status,
    )


@bp.route("/wholesale")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def wholesale_pool():
    threshold = pool_summary(current_reseller()[1].id).low_balance_threshold
    return _page(LowPoolForm(formdata=None, low_balance_threshold=str(threshold)))


@bp.route("/wholesale", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def save_low_pool_alert():
    reseller = current_reseller()[1]
    form = LowPoolForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    try:
        wholesale.set_low_pool_threshold(
            the_actor(), reseller, whole_number(form.low_balance_threshold.data)
        )
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _page(form, 422)
    commit()
    flash(_("The low pool alert was saved."), "success")
    return redirect(url_for("reseller_settings.wholesale_pool"))
