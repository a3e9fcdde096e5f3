"""Sign-in pages for everyone: login, logout, password reset, invitations, language."""

from __future__ import annotations

import time

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from flask_login import current_user, login_user, logout_user
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from tenants.core.errors import (
    AccessRefused,
    InvalidToken,
    LoginRefused,
    LoginThrottled,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.jobs.outbox import commit
from tenants.models import SupportSessionEnd, User
from tenants.people import auth, invitations, passwords, two_factor
from tenants.people import profile as accounts
from tenants.web.decorators import actor_required, is_safe_next
from tenants.web.forms import Form, show_service_errors
from tenants.web.locale import request_language
from tenants.web.session import (
    CONTEXT_KEY,
    SUPPORT_KEY,
    current_actor,
    home_url,
    leave_support_session,
)

bp = Blueprint("auth", __name__)


class LoginForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])
    remember = BooleanField(_l("Remember me"))
    submit = SubmitField(_l("Log in"))


class ForgotPasswordForm(Form):
    email = EmailField(_l("Email"), validators=[DataRequired(), Length(max=254)])
    submit = SubmitField(_l("Send me a reset link"))


class SetPasswordForm(Form):
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
    return redirect(home_url(current_actor()))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated and current_actor():
        return redirect(home_url(current_actor()))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = auth.authenticate(form.email.data, form.password.data, request.remote_addr)
        except (LoginThrottled, LoginRefused, AccessRefused) as error:
            commit()  # keep the recorded failure for throttling
            flash(str(error), "danger")
            return render_template("auth/login.html", form=form), error.status
        target = request.args.get("next")
        if two_factor.is_enrolled(user) or two_factor.must_enrol(user):
            # The password was right; the login finishes after the second step.
            commit()
            locale = session.get("locale")
            session.clear()
            if locale:
                session["locale"] = locale
            session[PENDING_KEY] = {
                "u": user.id,
                "r": bool(form.remember.data),
                "t": int(time.time()),
                "n": target if is_safe_next(target) else None,
            }
            if two_factor.is_enrolled(user):
                return redirect(url_for("auth.login_code"))
            flash(_("The platform requires two-factor authentication for staff."), "info")
            return redirect(url_for("two_factor.setup"))
        return complete_login(user, remember=form.remember.data, target=target)
    return render_template("auth/login.html", form=form)


PENDING_KEY = "pending_login"
PENDING_SECONDS = 300


def pending_login_user():
    """The person whose password was right a moment ago and who owes the second step."""
    pending = session.get(PENDING_KEY)
    if not isinstance(pending, dict) or time.time() - pending.get("t", 0) > PENDING_SECONDS:
        session.pop(PENDING_KEY, None)
        return None
    return db.session.get(User, pending.get("u"))


def complete_login(user, *, remember: bool, target: str | None = None):
    """Start the server-side session and go to ``target`` or the user's home."""
    begin_login(user, remember=remember)
    if is_safe_next(target):
        return redirect(target)
    return redirect(home_url(current_actor()))


def begin_login(user, *, remember: bool) -> None:
    """Start the server-side session (committed): the person is logged in from now on."""
    locale = session.get("locale")
    session.clear()  # a fresh session at login: nothing of the anonymous one survives
    if locale:
        session["locale"] = locale
    auth.start_session(
        user,
        remember=remember,
        ip_address=request.remote_addr,
        user_agent=request.user_agent.string,
    )
    login_user(user, remember=remember)
    session[CONTEXT_KEY] = auth.available_contexts(user)[0].key
    commit()


def complete_pending_login(user):
    pending = session.get(PENDING_KEY) or {}
    return complete_login(user, remember=bool(pending.get("r")), target=pending.get("n"))


class CodeForm(Form):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        description=_l("The 6-digit code from your authenticator app, or a recovery code."),
        render_kw={"autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Verify"))


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """The second step of login for people with two-factor authentication on."""
    user = pending_login_user()
    if user is None:
        flash(_("Please log in again."), "warning")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            auth.check_throttle(user.email)
        except LoginThrottled as error:
            flash(str(error), "danger")
            return render_template("auth/login_code.html", form=form), error.status
        kind = two_factor.verify(user, form.code.data)
        if kind is None:
            auth.record_failure(user.email, request.remote_addr)
            commit()
            form.code.errors = [*form.code.errors, _("That code is not right.")]
            status = 401
        else:
            auth.clear_failures(user.email)
            response = complete_pending_login(user)
            if kind == "recovery":  # after the login: it starts a fresh session
                flash(
                    _(
                        "You used a recovery code; %(n)d left. Make new ones from your "
                        "two-factor page if you are running low.",
                        n=two_factor.remaining_recovery_codes(user),
                    ),
                    "warning",
                )
            return response
    elif request.method == "POST":
        status = 400
    return render_template("auth/login_code.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        if session.get(SUPPORT_KEY):
            leave_support_session(SupportSessionEnd.LOGOUT)
        auth.revoke_session(current_user.auth_token)
        commit()
    # The message, and the login page after it, stay in the language the person read in
    # (their saved language is no longer known once they are logged out).
    language = request_language()
    logout_user()
    session.clear()
    session["locale"] = language
    refresh()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        invitations.forgotten_password(form.email.data)
        commit()
        flash(
            _(
                "If that address has an account or a pending invitation, we have sent it "
                "a link to set a password."
            ),
            "info",
        )
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot_password.html", form=form)


def _speak_invitation_language(token: str) -> None:
    """An organization's invitation opens in its language (the login page after it too),
    unless the visitor chose one with the language switch."""
    language = invitations.link_language(token)
    if language and "locale" not in session and not current_user.is_authenticated:
        session["locale"] = language
        refresh()


def _set_password_page(token: str, purpose: str, template: str):
    try:
        user = passwords.user_for_token(token, purpose)
    except InvalidToken as error:
        flash(str(error), "danger")
        return redirect(url_for("auth.forgot_password"))
    invited = purpose == passwords.PURPOSE_INVITE
    if invited:
        _speak_invitation_language(token)
    form = SetPasswordForm()
    if form.validate_on_submit():
        try:
            if invited:
                invitations.accept_invitation(token, form.password.data, request_language())
            else:
                passwords.set_password_with_token(token, purpose, form.password.data)
        except ValidationFailed as error:
            show_service_errors(form, error)
        except InvalidToken as error:
            flash(str(error), "danger")
            return redirect(url_for("auth.forgot_password"))
        else:
            commit()
            if current_user.is_authenticated:
                logout_user()
                session.pop(CONTEXT_KEY, None)
            flash(_("Your password has been saved. You can log in now."), "success")
            return redirect(url_for("auth.login"))
    return render_template(template, form=form, user=user)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_page(token, passwords.PURPOSE_RESET, "auth/reset_password.html")


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_page(token, passwords.PURPOSE_INVITE, "auth/accept_invitation.html")


@bp.route("/language", methods=["POST"])
def set_language():
    language = request.form.get("language", "")
    if language in current_app.config["LANGUAGES"]:
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
    if session.get(SUPPORT_KEY):
        flash(_("Return to your account before switching."), "warning")
        return redirect(home_url(current_actor()))
    if any(c.key == key for c in auth.available_contexts(current_user)):
        session[CONTEXT_KEY] = key
        g.pop("actor", None)
    return redirect(home_url(current_actor()))
