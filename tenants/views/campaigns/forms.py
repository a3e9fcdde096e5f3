"""The campaign pages' forms: schedule or change a campaign, confirm a cancel or an approval, reject
with a reason."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, StringField, SubmitField, TextAreaField, TimeField
from wtforms.validators import Optional

from tenants.campaigns.listing import REPEAT_LABELS
from tenants.campaigns.plans import MAX_NAME, MAX_REASON
from tenants.web.forms import Form, choices


class CampaignForm(Form):
    # The service's field names → the form's.
    paths = {"starts_at": "start_date", "list_id": "list_id"}

    name = StringField(_l("Name"), render_kw={"maxlength": MAX_NAME})
    list_id = SelectField(_l("Contact list"), validate_choice=False)
    text = TextAreaField(_l("Message"), render_kw={"rows": 4})
    start_date = DateField(_l("Date"), validators=[Optional()])
    start_time = TimeField(_l("Time"), validators=[Optional()])
    repeat = SelectField(
        _l("Repeat"), choices=choices(*((key.value, label) for key, label in REPEAT_LABELS.items()))
    )
    until = DateField(
        _l("Until"),
        validators=[Optional()],
        description=_l("Repeating campaigns: the last day a run may fall on."),
    )
    sender = StringField(
        _l("Sender"),
        description=_l("Up to 11 letters and digits, or a number. Default: your Settings."),
        render_kw={"maxlength": 16},
    )
    submit = SubmitField(_l("Schedule"))


class EditCampaignForm(CampaignForm):
    submit = SubmitField(_l("Save changes"))


class CancelForm(Form):
    cancel = SubmitField(_l("Cancel campaign"))


class ApproveForm(Form):
    approve = SubmitField(_l("Approve"))


class RejectForm(Form):
    reason = TextAreaField(_l("Reason"), render_kw={"rows": 2, "maxlength": MAX_REASON})
    reject = SubmitField(_l("Reject"))
