"""What an organization's editable fields are, who may change each, and how each is cleaned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.access.policy import Permission, can
from tenants.core.errors import ValidationFailed
from tenants.core.validation import (
    clean_country,
    clean_currency,
    clean_email,
    clean_iban,
    clean_mobile,
    clean_sender_name,
    clean_text,
    clean_timezone,
    mask_iban,
    read_decimal,
)
from tenants.credits import topups
from tenants.credits.forecast import ALERT_DAYS_MAX
from tenants.models import BillingType, PricingModel

MAX_CREDITS = 10**12
MAX_CREDIT_LIMIT = Decimal("99999999")  # NUMERIC(12, 4) holds 8 integer digits

# What a person picks from for these fields (the portal's forms), and what each model means.
PRICING_MODEL_CHOICES = [("prepaid", _l("Prepaid")), ("postpaid", _l("Postpaid"))]
BILLING_TYPE_CHOICES = [("company", _l("Company")), ("individual", _l("Individual"))]

PRICING_MODEL_HINT = _l(
    "Prepaid: the organization buys credits before sending; sending stops when they run out. "
    "Postpaid: usage is charged up to a credit limit and invoiced on the 1st of each month."
)


def clean_pricing_model(value, path: str = "pricing_model") -> PricingModel:
    try:
        return PricingModel(value)
    except ValueError as exc:
        raise ValidationFailed(fields={path: str(_l("Choose prepaid or postpaid."))}) from exc


def clean_billing_type(value, path: str = "billing.type") -> BillingType:
    try:
        return BillingType(value or BillingType.COMPANY.value)
    except ValueError as exc:
        raise ValidationFailed(fields={path: str(_l("Choose individual or company."))}) from exc


def _optional_text(max_length: int, *, one_line: bool = True) -> Callable[[Any, str], str | None]:
    return lambda value, path: clean_text(
        value, path, max_length=max_length, required=False, one_line=one_line
    )


def _required_text(max_length: int) -> Callable[[Any, str], str | None]:
    return lambda value, path: clean_text(value, path, max_length=max_length)


def _optional_email(value, path: str) -> str | None:
    return clean_email(value, path, required=False)


def _boolean(value, path: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationFailed(fields={path: str(_l("Must be true or false."))})
    return value


def _credits(value, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(fields={path: str(_l("Enter a whole number of credits."))})
    if not 0 <= value <= MAX_CREDITS:
        raise ValidationFailed(
            fields={path: str(_l("Enter a number between 0 and 1,000,000,000,000."))}
        )
    return value


def _monthly_limit(value, path: str) -> int:
    """Automatic top-ups a month: at least one, at most the platform's ceiling."""
    ceiling = topups.monthly_limit_ceiling()
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(fields={path: str(_l("Enter a whole number."))})
    if not 1 <= value <= ceiling:
        raise ValidationFailed(
            fields={path: str(_l("Enter a number between 1 and %(max)s.", max=ceiling))}
        )
    return value


def _alert_days(value, path: str) -> int | None:
    """Days before running out to warn at (the forecast alert); None: no warning."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ALERT_DAYS_MAX:
        raise ValidationFailed(
            fields={
                path: str(
                    _l(
                        "Enter a whole number of days from 1 to %(max)s, or leave it empty.",
                        max=ALERT_DAYS_MAX,
                    )
                )
            }
        )
    return value


def _sender_name(value, path: str) -> str | None:
    return clean_sender_name(value, path)


def _money(value, path: str) -> Decimal:
    """A decimal string, integer or Decimal (never a float: money is exact)."""
    amount = read_decimal(value)
    if amount is None:
        raise ValidationFailed(fields={path: str(_l("Enter an amount such as 1500.00."))})
    if amount < 0 or amount > MAX_CREDIT_LIMIT:
        raise ValidationFailed(fields={path: str(_l("Enter an amount between 0 and 99,999,999."))})
    return amount


@dataclass(frozen=True)
class EditableField:
    attribute: str
    clean: Callable[[Any, str], Any]
    permission: Permission
    # How a value is written into the audit log, when not as it is (a bank account: masked).
    audited: Callable[[Any], Any] | None = None


# Who edits what: general information and reseller-only terms need MANAGE_ORGANIZATION
# (reseller staff); billing details and settings need EDIT_ORGANIZATION_SETTINGS (reseller
# staff and the organization's admins).
_RESELLER = Permission.MANAGE_ORGANIZATION
_ADMINS = Permission.EDIT_ORGANIZATION_SETTINGS

EDITABLE_FIELDS: dict[str, EditableField] = {
    "name": EditableField("name", _required_text(200), _RESELLER),
    "country": EditableField("country", clean_country, _RESELLER),
    "currency": EditableField("currency", clean_currency, _RESELLER),
    "timezone": EditableField("timezone", clean_timezone, _RESELLER),
    "pricing_model": EditableField("pricing_model", clean_pricing_model, _RESELLER),
    "billing.type": EditableField("billing_type", clean_billing_type, _ADMINS),
    "billing.name": EditableField("billing_name", _optional_text(200), _ADMINS),
    "billing.address": EditableField(
        "billing_address", _optional_text(1000, one_line=False), _ADMINS
    ),
    "billing.tax_id": EditableField("billing_tax_id", _optional_text(64), _ADMINS),
    "billing.email": EditableField("billing_email", _optional_email, _ADMINS),
    "billing.iban": EditableField("billing_iban", clean_iban, _ADMINS, audited=mask_iban),
    "settings.sender_name": EditableField("sender_name", _sender_name, _ADMINS),
    "settings.notification_email": EditableField("notification_email", _optional_email, _ADMINS),
    "settings.notification_mobile": EditableField("notification_mobile", clean_mobile, _ADMINS),
    "settings.low_balance_alert": EditableField("low_balance_alert", _boolean, _ADMINS),
    "settings.low_balance_threshold": EditableField("low_balance_threshold", _credits, _ADMINS),
    "settings.alert_email": EditableField("alert_email", _optional_email, _ADMINS),
    "settings.forecast_alert_days": EditableField("forecast_alert_days", _alert_days, _ADMINS),
    "credit_limit": EditableField("credit_limit", _money, _RESELLER),
    "individual_user_credits": EditableField("individual_user_credits", _boolean, _RESELLER),
    "auto_top_up.enabled": EditableField("auto_top_up_enabled", _boolean, _ADMINS),
    "auto_top_up.below": EditableField("auto_top_up_below", _credits, _ADMINS),
    "auto_top_up.credits": EditableField("auto_top_up_credits", _credits, _ADMINS),
    "auto_top_up.monthly_limit": EditableField(
        "auto_top_up_monthly_limit", _monthly_limit, _ADMINS
    ),
}


def editable_paths(actor: Actor) -> frozenset[str]:
    """The fields of update_organization this actor may change (forms show only these)."""
    return frozenset(path for path, spec in EDITABLE_FIELDS.items() if can(actor, spec.permission))
