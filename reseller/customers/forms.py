"""Forms of the Customer app: the list's search and filters, and creating an organization."""

from __future__ import annotations

from babel.numbers import get_currency_precision
from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectField, StringField, SubmitField, TextAreaField

from tenants.core.validation import default_currency
from tenants.organizations.fields import (
    BILLING_TYPE_CHOICES,
    PRICING_MODEL_CHOICES,
    PRICING_MODEL_HINT,
)
from tenants.organizations.operations import BillingDetails, NewOrganization
from tenants.web.forms import Form, choices, parse_amount

ANY_YES_NO = (("", _l("Any")), ("yes", _l("Yes")), ("no", _l("No")))


class FilterForm(Form):
    """GET form: no CSRF (it changes nothing), values read from the query string."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), description=_l("Organization name, owner email or billing name"))
    status = SelectField(
        _l("Status"),
        choices=choices(("", _l("Any")), ("active", _l("Active")), ("suspended", _l("Suspended"))),
        validate_choice=False,
    )
    pricing_model = SelectField(
        _l("Pricing model"),
        choices=choices(("", _l("Any")), *PRICING_MODEL_CHOICES),
        validate_choice=False,
    )
    low_balance = SelectField(
        _l("Low balance"), choices=choices(*ANY_YES_NO), validate_choice=False
    )
    has_debt = SelectField(_l("Has debt"), choices=choices(*ANY_YES_NO), validate_choice=False)
    runs_out_within = StringField(
        _l("Runs out within (days)"),
        description=_l("At the last 7 days' usage"),
    )
    sort = SelectField(
        _l("Sort by"),
        choices=choices(("name", _l("Name")), ("days_left", _l("Days left, soonest first"))),
        validate_choice=False,
    )

    paths = {
        "q": "q",
        "status": "status",
        "pricing_model": "pricing_model",
        "low_balance": "low_balance",
        "has_debt": "has_debt",
        "runs_out_within": "runs_out_within",
        "sort": "sort",
    }


class CreateOrganizationForm(Form):
    name = StringField(_l("Organization name"))
    country = SelectField(
        _l("Country"),
        validate_choice=False,
        description=_l("Determines the tax applied (Portal settings > Tax)."),
    )
    currency = SelectField(
        _l("Currency"),
        validate_choice=False,
        description=_l("Leave as is to use the country's currency."),
    )
    timezone = SelectField(
        _l("Timezone"),
        validate_choice=False,
        description=_l("Leave as is to use the country's main timezone."),
    )
    pricing_model = RadioField(
        _l("Pricing model"),
        choices=choices(*PRICING_MODEL_CHOICES),
        default="prepaid",
        validate_choice=False,
        description=PRICING_MODEL_HINT,
    )
    credit_limit = StringField(
        _l("Credit limit"),
        description=_l(
            "Postpaid: usage is refused once the debt reaches this amount. Leave it empty "
            "for your default for the currency (Reseller settings > Price list)."
        ),
        render_kw={"inputmode": "decimal"},
    )
    billing_type = RadioField(
        _l("Billing type"),
        choices=choices(*BILLING_TYPE_CHOICES),
        default="company",
        validate_choice=False,
    )
    billing_name = StringField(
        _l("Billing name"),
        description=_l("By default, Billing Name = Org Name. Fill it in only if it differs."),
    )
    billing_address = TextAreaField(_l("Address"))
    billing_tax_id = StringField(_l("Tax identification number"))
    billing_email = StringField(_l("Billing email"))
    owner_name = StringField(_l("Owner name"))
    owner_email = StringField(
        _l("Owner email"),
        description=_l("The owner receives an invitation email to set a password."),
    )
    submit = SubmitField(_l("Create organization"))

    paths = {
        "name": "name",
        "country": "country",
        "currency": "currency",
        "timezone": "timezone",
        "pricing_model": "pricing_model",
        "credit_limit": "credit_limit",
        "billing.type": "billing_type",
        "billing.name": "billing_name",
        "billing.address": "billing_address",
        "billing.tax_id": "billing_tax_id",
        "billing.email": "billing_email",
        "owner.name": "owner_name",
        "owner.email": "owner_email",
        "email": "owner_email",
    }

    def typed_credit_limit(self):
        """The credit limit as typed in the reader's locale (ValidationFailed when it cannot
        be read for sure); None when left empty."""
        text = (self.credit_limit.data or "").strip()
        if not text:
            return None
        currency = self.currency.data or default_currency(self.country.data or "") or ""
        return parse_amount(text, "credit_limit", get_currency_precision(currency.upper()))

    def new_organization(self) -> NewOrganization:
        """What was typed, as create_organization's input (the service does the checking;
        an unreadable credit limit is refused here, ValidationFailed)."""
        return NewOrganization(
            name=self.name.data or "",
            country=self.country.data or "",
            pricing_model=self.pricing_model.data or "",
            owner_name=self.owner_name.data or "",
            owner_email=self.owner_email.data or "",
            currency=self.currency.data or None,
            timezone=self.timezone.data or None,
            billing=BillingDetails(
                type=self.billing_type.data or "company",
                name=self.billing_name.data or None,
                address=self.billing_address.data or None,
                tax_id=self.billing_tax_id.data or None,
                email=self.billing_email.data or None,
            ),
            credit_limit=self.typed_credit_limit(),
        )
