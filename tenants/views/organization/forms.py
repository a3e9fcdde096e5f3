"""Forms of an organization's settings and lifecycle pages; the services do the validating."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)

from tenants.models import Organization
from tenants.organizations.fields import (
    BILLING_TYPE_CHOICES,
    PRICING_MODEL_CHOICES,
    PRICING_MODEL_HINT,
)
from tenants.web.forms import Form, choices, whole_number


class GeneralForm(Form):
    name = StringField(_l("Organization name"))
    country = SelectField(
        _l("Country"),
        validate_choice=False,
        description=_l(
            "A change applies from now on: usage until now keeps the old country's tax rate "
            "on its invoice, later usage gets the new one."
        ),
    )
    currency = SelectField(_l("Currency"), validate_choice=False)
    timezone = SelectField(_l("Timezone"), validate_choice=False)
    pricing_model = RadioField(
        _l("Pricing model"),
        choices=choices(*PRICING_MODEL_CHOICES),
        validate_choice=False,
        description=PRICING_MODEL_HINT,
    )
    submit = SubmitField(_l("Save general information"))

    # API paths of update_organization -> form fields.
    paths = {
        "name": "name",
        "country": "country",
        "currency": "currency",
        "timezone": "timezone",
        "pricing_model": "pricing_model",
    }


class BillingForm(Form):
    billing_type = RadioField(
        _l("Billing type"), choices=choices(*BILLING_TYPE_CHOICES), validate_choice=False
    )
    billing_name = StringField(
        _l("Billing name"),
        description=_l(
            "By default, Billing Name = Org Name. Leave it empty to follow the organization name."
        ),
    )
    billing_address = TextAreaField(_l("Address"))
    billing_tax_id = StringField(_l("Tax identification number"))
    billing_email = StringField(
        _l("Billing email"), description=_l("Where invoices and receipts are sent.")
    )
    # Never shown in full: the saved account appears masked beside an empty field, which
    # keeps it when left empty (tenants.core.validation.mask_iban).
    billing_iban = StringField(
        _l("Bank account (IBAN)"),
        description=_l("For example ES91 2100 0418 4502 0005 1332."),
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    remove_iban = BooleanField(_l("Remove the saved bank account"))
    submit = SubmitField(_l("Save billing information"))

    paths = {
        "billing.type": "billing_type",
        "billing.name": "billing_name",
        "billing.address": "billing_address",
        "billing.tax_id": "billing_tax_id",
        "billing.email": "billing_email",
        "billing.iban": "billing_iban",
    }

    def fill(self, org: Organization) -> None:
        """The organization's billing details as they are (the bank account is not typed in
        again: the field stays empty)."""
        self.billing_type.data = org.billing_type.value
        self.billing_name.data = org.billing_name or ""
        self.billing_address.data = org.billing_address or ""
        self.billing_tax_id.data = org.billing_tax_id or ""
        self.billing_email.data = org.billing_email or ""

    def values(self) -> dict:
        """The posted form as update_organization's values, keyed by API paths; an empty
        bank account field keeps the saved one."""
        values = {
            "billing.type": self.billing_type.data or "",
            "billing.name": self.billing_name.data or None,
            "billing.address": self.billing_address.data or None,
            "billing.tax_id": self.billing_tax_id.data or None,
            "billing.email": self.billing_email.data or None,
        }
        if self.remove_iban.data:
            values["billing.iban"] = None
        elif (self.billing_iban.data or "").strip():
            values["billing.iban"] = self.billing_iban.data
        return values


class ConfigurationForm(Form):
    sender_name = StringField(
        _l("Sender name"),
        description=_l("Your company's or the account owner's name, as SMS recipients see it."),
    )
    notification_email = StringField(
        _l("Notification email"),
        description=_l("Account and campaign reports, approvals and other important notices."),
    )
    notification_mobile = StringField(
        _l("Notification mobile"),
        description=_l("In international format, e.g. +34 600 000 000."),
    )
    low_balance_alert = RadioField(
        _l("Low balance alert"),
        choices=choices(("yes", _l("Yes")), ("no", _l("No"))),
        validate_choice=False,
    )
    low_balance_threshold = StringField(
        _l("Low balance amount (credits)"),
        description=_l("We alert you once when the credits left drop to this number."),
    )
    alert_email = StringField(_l("Alert email"))
    forecast_alert_days = StringField(
        _l("Warn me this many days before I run out"),
        description=_l(
            "From 1 to 90 days, at the last 7 days' usage; we warn you once by email and SMS. "
            "Leave it empty for no warning."
        ),
    )
    submit = SubmitField(_l("Save changes"))

    paths = {
        "settings.sender_name": "sender_name",
        "settings.notification_email": "notification_email",
        "settings.notification_mobile": "notification_mobile",
        "settings.low_balance_alert": "low_balance_alert",
        "settings.low_balance_threshold": "low_balance_threshold",
        "settings.alert_email": "alert_email",
        "settings.forecast_alert_days": "forecast_alert_days",
    }


class AutoTopUpForm(Form):
    """Automatic top-up of the system pool (SPEC §4): the same fields and rules as the API's
    ``auto_top_up`` (tenants.organizations.operations.update_organization)."""

    enabled = RadioField(
        _l("Automatic top-up"),
        choices=choices(("yes", _l("Yes")), ("no", _l("No"))),
        validate_choice=False,
    )
    below = StringField(
        _l("Top up when the system pool drops below (credits)"),
        description=_l("For example 500: credits are bought when fewer than 500 are left."),
    )
    credits = StringField(
        _l("Credits to buy each time"),
        description=_l("Bought at your current credit price plus tax; a receipt is emailed."),
    )
    monthly_limit = StringField(
        _l("Automatic top-ups a month (at most)"),
        description=_l("Past this number in a calendar month, no more credits are bought."),
    )
    submit = SubmitField(_l("Save automatic top-up"))

    paths = {
        "auto_top_up.enabled": "enabled",
        "auto_top_up.below": "below",
        "auto_top_up.credits": "credits",
        "auto_top_up.monthly_limit": "monthly_limit",
    }

    def values(self) -> dict:
        """The posted form as update_organization's values (typed numbers read by the one
        reader of whole numbers; anything else goes on for the service to refuse)."""
        enabled = self.enabled.data
        return {
            "auto_top_up.enabled": enabled == "yes" if enabled in ("yes", "no") else enabled,
            "auto_top_up.below": whole_number(self.below.data),
            "auto_top_up.credits": whole_number(self.credits.data),
            "auto_top_up.monthly_limit": whole_number(self.monthly_limit.data),
        }


class ResellerTermsForm(Form):
    credit_limit = StringField(
        _l("Credit limit"),
        description=_l("Postpaid: usage is refused once the debt reaches this amount."),
    )
    individual_user_credits = BooleanField(
        _l("Individual user credits"),
        description=_l("Each member also has their own credit account."),
    )
    submit = SubmitField(_l("Save terms"))

    paths = {"credit_limit": "credit_limit", "individual_user_credits": "individual_user_credits"}


class SuspendForm(Form):
    reason = TextAreaField(
        _l("Reason"),
        description=_l("Shown to the organization's members when they try to log in."),
    )
    submit = SubmitField(_l("Suspend organization"))

    paths = {"reason": "reason"}


class ConfirmForm(Form):
    """A POST with only the CSRF token: reactivate, delete."""

    submit = SubmitField(_l("Confirm"))


class IndividualCreditsRequestForm(Form):
    message = TextAreaField(
        _l("Message (optional)"),
        description=_l("Anything your provider should know, e.g. which members need it."),
    )
    submit = SubmitField(_l("Request individual user credits"))

    paths = {"message": "message"}


class ApproveRequestForm(Form):
    request_id = HiddenField()
    submit = SubmitField(_l("Approve and switch on"))


class DeclineRequestForm(Form):
    request_id = HiddenField()
    reason = TextAreaField(
        _l("Reason (optional)"), description=_l("Sent to the organization's admins.")
    )
    submit = SubmitField(_l("Decline the request"))

    paths = {"reason": "reason"}
