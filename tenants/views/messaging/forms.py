"""The Send SMS page's forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, SelectField, StringField, SubmitField, TextAreaField

from tenants.messaging.operations import MAX_RECIPIENTS
from tenants.web.forms import Form


class SendForm(Form):
    # The service's field names → the form's.
    paths = {"to": "recipients", "text": "text", "sender": "sender", "account": "account"}

    recipients = TextAreaField(
        _l("Recipients"),
        description=_l(
            "One number a line (or separated by commas), in international format, e.g. "
            "+34 600 000 000; up to %(n)s.",
            n=MAX_RECIPIENTS,
        ),
        render_kw={"rows": 4, "autocomplete": "off", "inputmode": "tel"},
    )
    text = TextAreaField(_l("Message"), render_kw={"rows": 5})
    sender = StringField(
        _l("Sender"),
        description=_l("Up to 11 letters and digits, or a number. Default: your Settings."),
        render_kw={"maxlength": 16},
    )
    account = SelectField(_l("Charge to"), validate_choice=False)
    # The confirmation step's key: sending the same confirmation twice sends once.
    request_key = HiddenField()
    review = SubmitField(_l("Review"))
    confirm = SubmitField(_l("Send now"))
    edit = SubmitField(_l("Change"))


class HistoryFilter(Form):
    class Meta:
        csrf = False

    status = SelectField(_l("Status"), validate_choice=False)
    campaign_id = SelectField(_l("Campaign"), validate_choice=False)
