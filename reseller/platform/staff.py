"""Platform staff: platform admins invite admins and support agents, change roles, remove."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from reseller.platform.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import Conflict, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import PlatformStaff, User
from tenants.resellers import operations as resellers
from tenants.web.decorators import actor_required, apply_field_errors, the_actor

ROLE_CHOICES = [("support", _l("Support agent")), ("admin", _l("Platform admin"))]


class InvitePlatformStaffForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in ROLE_CHOICES])
    submit = SubmitField(_l("Send invitation"))


class PlatformRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in ROLE_CHOICES])


def _staff_page(form: InvitePlatformStaffForm | None = None, status: int = 200):
    staff = db.session.scalars(
        resellers.platform_staff_query().order_by(User.name, User.email)
    ).all()
    return (
        render_template(
            "platform/staff.html",
            staff=staff,
            form=form or InvitePlatformStaffForm(formdata=None),
            role_choices=ROLE_CHOICES,
        ),
        status,
    )


@bp.route("/staff")
@actor_required(Permission.MANAGE_PLATFORM)
def staff():
    return _staff_page()


@bp.route("/staff/invite", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def invite_staff():
    form = InvitePlatformStaffForm()
    if not form.validate_on_submit():
        return _staff_page(form, 422)
    try:
        member = resellers.invite_platform_staff(
            the_actor(), form.email.data, form.name.data, form.role.data
        )
    except ValidationFailed as error:
        rollback()
        apply_field_errors(form, error)
        return _staff_page(form, 422)
    commit()
    flash(_("An invitation was sent to %(email)s.", email=member.user.email), "success")
    return redirect(url_for("platform.staff"))


@bp.route("/staff/<staff_id>/role", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def change_staff_role(staff_id: str):
    form = PlatformRoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a role."), "danger")
        return redirect(url_for("platform.staff"))
    try:
        member = resellers.change_platform_staff_role(the_actor(), staff_id, form.role.data)
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("platform.staff"))
    commit()
    flash(_("The role of %(name)s was changed.", name=member.user.name), "success")
    return redirect(url_for("platform.staff"))


@bp.route("/staff/<staff_id>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def remove_staff(staff_id: str):
    member = db.session.get(PlatformStaff, staff_id)
    if member is None:
        raise NotFound()
    name = member.user.name
    try:
        resellers.remove_platform_staff(the_actor(), staff_id)
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("platform.staff"))
    commit()
    flash(_("%(name)s was removed from the platform staff.", name=name), "success")
    return redirect(url_for("platform.staff"))
