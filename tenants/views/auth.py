"""Sign-in pages for everyone: login, logout, password reset, invitations, language."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from tenants import accounts, auth, web
from tenants.errors import (
    AccessRefused,
    InvalidToken,
    LoginRefused,
    LoginThrottled,
    ValidationFailed,
)
from tenants.queue import commit
from tenants.views.helpers import actor_required, apply_field_errors, is_safe_next

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Remember me"))
    submit = SubmitField(_l("Log in"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("Send me a reset link"))


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=10, max=200)]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )
    submit = SubmitField(_l("Save password"))


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(web.home_url(web.current_actor()))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and web.current_actor():
        return redirect(web.home_url(web.current_actor()))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data, request.remote_addr)
        except (LoginThrottled, LoginRefused, AccessRefused) as error:
            commit()  # keep the recorded failure for throttling
            flash(str(error), "danger")
            return render_template("auth/login.html", form=form), error.status
        locale = session.get("locale")
        session.clear()  # a fresh session at login: nothing of the anonymous one survives
        if locale:
            session["locale"] = locale
        auth.start_session(
            user,
            remember=form.remember.data,
            ip_address=request.remote_addr,
            user_agent=request.user_agent.string,
        )
        login_user(user, remember=form.remember.data)
        session[web.CONTEXT_KEY] = auth.available_contexts(user)[0].key
        commit()
        target = request.args.get("next")
        if is_safe_next(target):
            return redirect(target)
        return redirect(web.home_url(web.current_actor()))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        auth.revoke_session(current_user.auth_token)
        commit()
    logout_user()
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        auth.request_password_reset(form.email.data)
        commit()
        flash(
            _("If that address has an account, we have sent it a link to reset the password."),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


def _set_password_page(token: str, purpose: str, template: str):
    try:
        user = auth.user_for_token(token, purpose)
    except InvalidToken as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.forgot_password"))
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            auth.set_password_with_token(token, purpose, form.password.data)
        except ValidationFailed as error:
            apply_field_errors(form, error)
        except InvalidToken as error:
            flash(str(error), "danger")
            return redirect(url_for("auth.forgot_password"))
        else:
            commit()
            if current_user.is_authenticated:
                logout_user()
                session.pop(web.CONTEXT_KEY, None)
            flash(_("Your password has been saved. You can log in now."), "success")
            return redirect(url_for("auth.login"))
    return render_template(template, form=form, user=user)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_page(token, auth.PURPOSE_RESET, "auth/reset_password.html")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_page(token, auth.PURPOSE_INVITE, "auth/accept_invitation.html")


@bp.route("/language", methods=["POST"])
def set_language():
    language = request.form.get("language", "")
    if language in web.current_app.config["LANGUAGES"]:
        session["locale"] = language
        if current_user.is_authenticated:
            accounts.set_language(current_user, language)
            commit()
    target = request.form.get("next")
    return redirect(target if is_safe_next(target) else url_for("auth.index"))


@bp.route("/context", methods=["POST"])
@actor_required()
def switch_context():
    key = request.form.get("context", "")
    if any(c.key == key for c in auth.available_contexts(current_user)):
        session[web.CONTEXT_KEY] = key
        web.g.pop("actor", None)
    return redirect(web.home_url(web.current_actor()))
