"""The credits pages' forms, and reading what people type into them (credits, refusals)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import Optional

from tenants.core.errors import DomainError, Forbidden, NotFound
from tenants.jobs.outbox import rollback
from tenants.views.organization.forms import BillingForm
from tenants.web.forms import Form, show_service_errors


class PurchaseForm(Form):
    account = SelectField(_l("Purchase for"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    submit = SubmitField(_l("Proceed"))


class ConfirmPurchaseForm(Form):
    account = HiddenField()
    credits = HiddenField()
    payment_method = SelectField(_l("Payment method"), validate_choice=False)
    submit = SubmitField(_l("Continue to payment"))


class PurchaseBillingForm(BillingForm):
    """The billing details edited inside the purchase flow; the order rides along."""

    account = HiddenField()
    credits = HiddenField()
    submit = SubmitField(_l("Save and return to the purchase"))


class CardForm(Form):
    card_number = StringField(
        _l("Card number"),
        description=_l(
            "Test payments: any card number is approved except 4000 0000 0000 0002, "
            "which is declined."
        ),
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric"},
    )
    card_name = StringField(_l("Name on card"), render_kw={"autocomplete": "cc-name"})
    expiry = StringField(
        _l("Expiry (MM/YY)"), render_kw={"autocomplete": "cc-exp", "placeholder": "MM/YY"}
    )
    cvc = StringField(_l("CVC"), render_kw={"autocomplete": "cc-csc", "inputmode": "numeric"})
    save_card = BooleanField(_l("Save this card for automatic top-ups"))
    submit = SubmitField(_l("Pay now"))


class OfflinePaymentForm(Form):
    note = StringField(
        _l("Payment note or reference"),
        description=_l("For example the bank transfer reference (optional)."),
    )
    submit = SubmitField(_l("Record payment"))


class ConfirmForm(Form):
    submit = SubmitField(_l("Try another card"))


class StartAgainForm(Form):
    submit = SubmitField(_l("Start a new purchase"))


class TransferForm(Form):
    source = SelectField(_l("From"), validate_choice=False)
    target = SelectField(_l("To"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    agree = BooleanField(_l("I agree to the conditions"))
    submit = SubmitField(_l("Transfer"))

    paths = {"from": "source", "to": "target", "credits": "credits", "agree": "agree"}


class WithdrawForm(Form):
    account = SelectField(_l("Account"), validate_choice=False)
    credits = StringField(_l("Quantity (credits)"))
    reason = StringField(_l("Reason"))
    # "1" when opened from the delete page's close-out: no low-balance alert.
    close_out = HiddenField()
    submit = SubmitField(_l("Withdraw credits"))


class FilterForm(Form):
    class Meta:
        csrf = False

    type = SelectField(_l("Type"), validate_choice=False)
    account = SelectField(_l("Account"), validate_choice=False)
    date_from = DateField(_l("From date"), validators=[Optional()])
    date_to = DateField(_l("To date"), validators=[Optional()])
    q = StringField(_l("Search reference"))
    submit = SubmitField(_l("Filter"))


def _refused(form, error: DomainError, paths: dict | None = None) -> None:
    """Undo the attempt and show why; a record out of reach stays the 404 (or 403) it is."""
    if isinstance(error, NotFound | Forbidden):
        raise error
    rollback()
    show_service_errors(form, error, paths)
