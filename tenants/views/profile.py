"""Every user's own profile: personal details and password."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import PasswordField, SelectChoice, SelectField, StringField, SubmitField, TelField

from tenants.core.errors import DomainError
from tenants.core.validation import country_choices
from tenants.jobs.outbox import commit, rollback
from tenants.people import profile as accounts
from tenants.web.decorators import actor_required, the_actor
from tenants.web.forms import Form, show_service_errors
from tenants.web.session import acting_user

bp = Blueprint("profile", __name__, url_prefix="/profile")


class PersonalDetailsForm(Form):
    name = StringField(_l("Name"))
    mobile = TelField(
        _l("Mobile"), description=_l("International format, e.g. +34 600 000 000 (optional).")
    )
    country = SelectField(_l("Country"), validate_choice=False)
    company = StringField(_l("Company"))
    language = SelectField(_l("Language"), validate_choice=False)
    save = SubmitField(_l("Save Changes"))


class ChangePasswordForm(Form):
    current_password = PasswordField(_l("Current password"))
    password = PasswordField(_l("New password"), description=_l("Use at least 10 characters."))
    confirm = PasswordField(_l("Repeat the new password"))
    change = SubmitField(_l("Change password"))


def _details_form() -> PersonalDetailsForm:
    user = acting_user()
    form = PersonalDetailsForm(
        data={
            "name": user.name,
            "mobile": user.mobile or "",
            "country": user.country or "",
            "company": user.company or "",
            "language": user.language or str(get_locale()),
        }
    )
    form.country.choices = [
        SelectChoice("", _("Not set")),
        *(SelectChoice(code, name) for code, name in country_choices(str(get_locale()))),
    ]
    form.language.choices = [
        SelectChoice(code, name) for code, name in current_app.config["LANGUAGES"].items()
    ]
    return form


def _page(details: PersonalDetailsForm, password: ChangePasswordForm, status: int = 200):
    return (
        render_template(
            "profile/index.html", details=details, password=password, person=acting_user()
        ),
        status,
    )


def _refused(form: Form | None, error: DomainError) -> None:
    """Undo the attempt, then show why (tenants.web.forms.show_service_errors)."""
    rollback()
    show_service_errors(form, error)


@bp.route("/", methods=["GET", "POST"])
@actor_required()
def index():
    details = _details_form()
    if details.validate_on_submit():
        try:
            changes = accounts.update_profile(
                acting_user(),
                {
                    "name": details.name.data,
                    "mobile": details.mobile.data,
                    "country": details.country.data,
                    "company": details.company.data,
                    "language": details.language.data,
                },
                actor=the_actor(),
            )
        except DomainError as error:
            _refused(details, error)
        else:
            if "language" in changes and not the_actor().real_user_id:
                session["locale"] = current_user.language
            commit()
            flash(_("Your personal details have been saved."), "success")
            return redirect(url_for(".index"))
    return _page(details, ChangePasswordForm(formdata=None))


@bp.route("/password", methods=["POST"])
@actor_required()
def change_password():
    password = ChangePasswordForm()
    if password.validate_on_submit():
        if password.password.data != password.confirm.data:
            password.confirm.errors = [*password.confirm.errors, _("The passwords differ.")]
        else:
            try:
                accounts.change_password(
                    acting_user(),
                    password.current_password.data,
                    password.password.data,
                    keep_token=current_user.auth_token,
                    actor=the_actor(),
                )
            except DomainError as error:
                _refused(password, error)
            else:
                commit()
                flash(
                    _("Your password has been changed. Your other sessions have been logged out."),
                    "success",
                )
                return redirect(url_for(".index"))
    return _page(_details_form(), password)
