"""Platform administration of resellers: create (first admin invited), view, suspend,
reactivate, and their staff (invite, change role, remove) through the same flow and service
the reseller's own admins use."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from wtforms import EmailField, SelectChoice, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from reseller.platform.blueprint import bp
from reseller.staff import RESELLER_ROLES, InviteStaffForm, StaffFlow, reseller_staff
from tenants.access import scoping
from tenants.access.policy import Permission, can
from tenants.core.errors import Conflict, ValidationFailed
from tenants.core.extensions import db
from tenants.jobs.outbox import commit, rollback
from tenants.models import Organization, OrganizationStatus, ResellerStaff, User
from tenants.resellers import operations as resellers
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import Form, show_service_errors
from tenants.wholesale.pool import pool_summary


class NewResellerForm(Form):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("Its slug, used by the command line, is the lowercased, hyphenated name."),
    )
    default_language = SelectField(_l("Default language"))
    admin_name = StringField(_l("First admin's name"), validators=[DataRequired(), Length(max=200)])
    admin_email = EmailField(
        _l("First admin's email"),
        validators=[DataRequired(), Length(max=254)],
        description=_l("They receive an invitation email to choose a password."),
    )
    submit = SubmitField(_l("Create reseller"))


class SuspendForm(Form):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])
    submit = SubmitField(_l("Suspend reseller"))


class ReactivateForm(Form):
    reason = TextAreaField(_l("Reason (optional)"), validators=[Optional(), Length(max=500)])
    submit = SubmitField(_l("Reactivate reseller"))


def _new_reseller_form() -> NewResellerForm:
    form = NewResellerForm()
    form.default_language.choices = [
        SelectChoice(code, label) for code, label in current_app.config["LANGUAGES"].items()
    ]
    return form


@bp.route("/resellers/new", methods=["GET", "POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def new_reseller():
    form = _new_reseller_form()
    if form.validate_on_submit():
        try:
            reseller = resellers.create_reseller(
                the_actor(),
                form.name.data,
                default_language=form.default_language.data,
                admin_name=form.admin_name.data,
                admin_email=form.admin_email.data,
            )
        except ValidationFailed as error:
            rollback()
            show_service_errors(form, error)
        else:
            commit()
            flash(
                _(
                    "The reseller %(name)s was created with the slug %(slug)s. "
                    "An invitation was sent to %(email)s.",
                    name=reseller.name,
                    slug=reseller.slug,
                    email=form.admin_email.data.strip().lower(),
                ),
                "success",
            )
            return redirect(url_for("platform.reseller_detail", reseller_id=reseller.id))
    status = 422 if form.is_submitted() else 200
    return render_template("platform/new_reseller.html", form=form), status


def _detail_page(
    reseller_id: str, suspend_form=None, reactivate_form=None, status=200, invite_form=None
):
    actor = the_actor()
    reseller = scoping.get_reseller(actor, reseller_id)
    staff = db.session.scalars(
        scoping.reseller_staff_query(actor, reseller)
        .join(User, User.id == ResellerStaff.user_id)
        .order_by(User.name, User.email)
    ).all()
    organization_count = db.session.scalar(
        select(func.count())
        .select_from(Organization)
        .where(
            Organization.reseller_id == reseller.id,
            Organization.status != OrganizationStatus.DELETED,
        )
    )
    return (
        render_template(
            "platform/reseller_detail.html",
            reseller=reseller,
            staff=staff,
            organization_count=organization_count,
            pool=pool_summary(reseller.id),
            can_manage=can(actor, Permission.MANAGE_PLATFORM),
            suspend_form=suspend_form or SuspendForm(formdata=None),
            reactivate_form=reactivate_form or ReactivateForm(formdata=None),
            staff_invite=invite_form or InviteStaffForm(RESELLER_ROLES, formdata=None),
            role_choices=RESELLER_ROLES,
        ),
        status,
    )


@bp.route("/resellers/<reseller_id>")
@actor_required(Permission.VIEW_ALL_CUSTOMERS)
def reseller_detail(reseller_id: str):
    return _detail_page(reseller_id)


@bp.route("/resellers/<reseller_id>/suspend", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def suspend_reseller(reseller_id: str):
    reseller = scoping.get_reseller(the_actor(), reseller_id)
    form = SuspendForm()
    if not form.validate_on_submit():
        return _detail_page(reseller_id, suspend_form=form, status=422)
    try:
        resellers.suspend_reseller(the_actor(), reseller, form.reason.data)
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _detail_page(reseller_id, suspend_form=form, status=422)
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("platform.reseller_detail", reseller_id=reseller_id))
    commit()
    flash(
        _(
            "%(name)s is suspended: its staff and API keys are refused; its customers keep "
            "working.",
            name=reseller.name,
        ),
        "success",
    )
    return redirect(url_for("platform.reseller_detail", reseller_id=reseller_id))


@bp.route("/resellers/<reseller_id>/reactivate", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def reactivate_reseller(reseller_id: str):
    reseller = scoping.get_reseller(the_actor(), reseller_id)
    form = ReactivateForm()
    if not form.validate_on_submit():
        return _detail_page(reseller_id, reactivate_form=form, status=422)
    try:
        resellers.reactivate_reseller(the_actor(), reseller, form.reason.data)
    except ValidationFailed as error:
        rollback()
        show_service_errors(form, error)
        return _detail_page(reseller_id, reactivate_form=form, status=422)
    except Conflict as error:
        rollback()
        flash(str(error), "danger")
        return redirect(url_for("platform.reseller_detail", reseller_id=reseller_id))
    commit()
    flash(_("%(name)s is active again.", name=reseller.name), "success")
    return redirect(url_for("platform.reseller_detail", reseller_id=reseller_id))


# -- the reseller's staff (the one flow of reseller/staff.py) -------------------------------


def _staff_flow(reseller_id: str) -> StaffFlow:
    actor = the_actor()
    return reseller_staff(
        actor,
        scoping.get_reseller(actor, reseller_id),
        page=lambda form, status: _detail_page(reseller_id, invite_form=form, status=status),
        back=url_for("platform.reseller_detail", reseller_id=reseller_id) + "#staff",
    )


@bp.route("/resellers/<reseller_id>/staff/invite", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def invite_reseller_staff(reseller_id: str):
    return _staff_flow(reseller_id).invite_staff()


@bp.route("/resellers/<reseller_id>/staff/<staff_id>/role", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def change_reseller_staff_role(reseller_id: str, staff_id: str):
    return _staff_flow(reseller_id).change_staff_role(staff_id)


@bp.route("/resellers/<reseller_id>/staff/<staff_id>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_PLATFORM)
def remove_reseller_staff(reseller_id: str, staff_id: str):
    return _staff_flow(reseller_id).remove_staff(staff_id)
