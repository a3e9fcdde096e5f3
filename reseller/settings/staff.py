"""Reseller settings: the reseller's staff — invite, change role, remove."""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from reseller.settings.blueprint import bp
from tenants.access import scoping
from tenants.access.policy import Permission
from tenants.core.errors import Conflict, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import Reseller, ResellerStaff, User
from tenants.resellers import operations as resellers
from tenants.web.decorators import actor_required, apply_field_errors, the_actor

ROLE_CHOICES = [("agent", _l("Agent")), ("admin", _l("Admin"))]


class InviteStaffForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in ROLE_CHOICES])
    submit = SubmitField(_l("Send invitation"))


class StaffRoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[SelectChoice(v, label) for v, label in ROLE_CHOICES])


def _reseller() -> Reseller:
    actor = the_actor()
    return scoping.get_reseller(actor, actor.reseller_id)


def _staff_page(reseller: Reseller, form: InviteStaffForm | None = None, status: int = 200):
    staff = db.session.scalars(
        scoping.reseller_staff_query(the_actor(), reseller)
        .join(User, User.id == ResellerStaff.user_id)
        .order_by(User.name, User.email)
    ).all()
    return (
        render_template(
            "reseller_settings/staff.html",
            staff=staff,
            form=form or InviteStaffForm(formdata=None),
            role_choices=ROLE_CHOICES,
            active_tab="staff",
        ),
        status,
    )


@bp.route("/staff")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def staff():
    return _staff_page(_reseller())


@bp.route("/staff/invite", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def invite_staff():
    reseller = _reseller()
    form = InviteStaffForm()
    if not form.validate_on_submit():
        return _staff_page(reseller, form, 422)
    try:
        member = resellers.invite_reseller_staff(
            the_actor(), reseller, form.email.data, form.name.data, form.role.data
        )
    except ValidationFailed as error:
        rollback()
        apply_field_errors(form, error)
        return _staff_page(reseller, form, 422)
    commit()
    flash(_("An invitation was sent to %(email)s.", email=member.user.email), "success")
    return redirect(url_for("reseller_settings.staff"))


@bp.route("/staff/<staff_id>/role", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def change_staff_role(staff_id: str):
    reseller = _reseller()
    scoping.get_reseller_staff(the_actor(), reseller, staff_id)  # another's: 404 first
    form = StaffRoleForm()
    if not form.validate_on_submit():
        flash(_("Choose a role."), "danger")
        return redirect(url_for("reseller_settings.staff"))
    try:
        member = resellers.change_reseller_staff_role(
            the_actor(), reseller, staff_id, form.role.data
        )
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("reseller_settings.staff"))
    commit()
    flash(_("The role of %(name)s was changed.", name=member.user.name), "success")
    return redirect(url_for("reseller_settings.staff"))


@bp.route("/staff/<staff_id>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def remove_staff(staff_id: str):
    reseller = _reseller()
    member = scoping.get_reseller_staff(the_actor(), reseller, staff_id)
    name = member.user.name
    try:
        resellers.remove_reseller_staff(the_actor(), reseller, staff_id)
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("reseller_settings.staff"))
    commit()
    flash(_("%(name)s was removed from the staff.", name=name), "success")
    return redirect(url_for("reseller_settings.staff"))
