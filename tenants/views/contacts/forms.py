"""The contacts pages' forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import StringField, SubmitField, TelField

from tenants.web.forms import Form


class ListForm(Form):
    name = StringField(_l("Name"))
    submit = SubmitField(_l("Create list"))


class RenameListForm(ListForm):
    submit = SubmitField(_l("Save Changes"))


class ContactForm(Form):
    name = StringField(_l("Name"), description=_l("Optional."))
    mobile = TelField(
        _l("Mobile"),
        description=_l(
            "International format, e.g. +34 600 000 000, or a number of the organization's country."
        ),
    )
    submit = SubmitField(_l("Add contact"))


class EditContactForm(ContactForm):
    submit = SubmitField(_l("Save Changes"))


class ImportForm(Form):
    file = FileField(
        _l("CSV file"),
        description=_l(
            "One row per contact: a header row with Name and Mobile columns, or the name "
            "and the mobile in the first two columns. Any size."
        ),
    )
    submit = SubmitField(_l("Import"))


class OptOutForm(Form):
    mobile = TelField(
        _l("Mobile"),
        description=_l(
            "International format, e.g. +34 600 000 000, or a number of the organization's country."
        ),
    )
    submit = SubmitField(_l("Add to the opt-out list"))


class OptOutImportForm(Form):
    file = FileField(
        _l("CSV file"),
        description=_l("One number per row, or a column headed Mobile. Any size."),
    )
    submit = SubmitField(_l("Import"))


class ConfirmForm(Form):
    submit = SubmitField(_l("Confirm"))
