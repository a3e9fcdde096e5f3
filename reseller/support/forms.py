"""Forms of login-as: start a session, return, confirm it is you, the owner notification."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import Length

from tenants.web.forms import Form


class ConfirmPasswordForm(Form):
    password = PasswordField(_l("Password"), validators=[Length(max=200)])
    submit = SubmitField(_l("Confirm"))


class ConfirmCodeForm(Form):
    code = StringField(
        _l("Code"),
        validators=[Length(max=32)],
        description=_l("The 6-digit code from your authenticator app, or a recovery code."),
        render_kw={"autocomplete": "one-time-code"},
    )
    submit = SubmitField(_l("Confirm"))


class NotificationForm(Form):
    notify_owner = BooleanField(
        _l("Email the organization's owner when a view-only support session starts")
    )
    submit = SubmitField(_l("Save"))
