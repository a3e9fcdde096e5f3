"""Platform security settings: whether every staff member must use two-factor authentication."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, SubmitField

from reseller.platform.blueprint import bp
from tenants.access.policy import Permission
from tenants.jobs.outbox import commit
from tenants.people import two_factor
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import Form


class SecurityForm(Form):
    require_staff_two_factor = BooleanField(
        _l("Require two-factor authentication for all platform and reseller staff"),
        description=_l(
            "Staff without it are sent to set it up right after their password at their next login."
        ),
    )
    submit = SubmitField(_l("Save"))


@bp.route("/security", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def security():
    form = SecurityForm()
    if form.validate_on_submit():
        changed = two_factor.set_staff_two_factor_required(
            the_actor(), form.require_staff_two_factor.data
        )
        commit()
        flash(_("Saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("platform.overview"))
    if request.method == "GET":
        form.require_staff_two_factor.data = two_factor.staff_two_factor_required()
    status = 400 if request.method == "POST" else 200
    return render_template("platform/security.html", form=form), status
