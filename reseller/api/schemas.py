"""The API's objects for organizations, members and settings (price list, tax table), and the
field types the credits' objects share (reseller.api.schemas_credits)."""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import AfterValidator, Field, StringConstraints

from reseller.api.schemas_forecast import AlertDays, Forecast
from reseller.api.spec import (
    SAFE_CHAR,
    UNSAFE_TEXT,
    ApiModel,
    ListQuery,
    Named,
    QueryBoolean,
    QueryDays,
    decimal,
    explain_pattern,
    integer,
    one_of,
    pattern,
    refused,
    text,
)
from tenants.core.config import LANGUAGES
from tenants.core.errors import ValidationFailed
from tenants.core.validation import clean_email, country_codes, currency_codes, timezone_names
from tenants.credits.topups import MONTHLY_LIMIT_MAX

CREDITS_MAX = 10**12  # far above any real balance, well inside BIGINT

# ---------------------------------------------------------------------------
# Field types

# Hundreds of codes, stated once each as a pattern: tools try an enum value by value.
COUNTRIES = "|".join(sorted(country_codes()))
CURRENCIES = "|".join(sorted(currency_codes()))
Country = Annotated[
    pattern(COUNTRIES, 2, message=_l("Unknown country."), description="ISO 3166-1 alpha-2"),
    Named("Country"),
]
Currency = Annotated[
    pattern(CURRENCIES, 3, message=_l("Unknown currency."), description="ISO 4217"),
    Named("Currency"),
]
Timezone = one_of(
    sorted(timezone_names()),
    message=_l("Unknown timezone."),
    name="Timezone",
    description="IANA timezone",
    examples=["Europe/Madrid"],
)
PricingModel = one_of(("prepaid", "postpaid"))
Id = Annotated[str, Field(max_length=40)]
Time = Annotated[
    str,
    Field(
        max_length=40,
        json_schema_extra={"format": "date-time"},
        description="ISO 8601, UTC (ends in Z)",
    ),
]
Money = Annotated[
    str,
    Field(
        pattern=r"^[0-9]+(?:\.[0-9]+)?$",
        description="Decimal string with the currency's decimals",
        examples=["12.50"],
    ),
]
SignedMoney = Annotated[str, Field(pattern=r"^-?[0-9]+(?:\.[0-9]+)?$")]
Credits = integer(0, CREDITS_MAX)
NextCursor = Annotated[
    str | None, Field(pattern=r"^[A-Za-z0-9_-]+$", description="Pass as `cursor` for more")
]


def _letters_but(skip: set[str]) -> str:
    """A character class of the domain-label characters but ``skip`` (in either case)."""
    keep = "".join(c for c in string.ascii_lowercase if c not in skip)
    return f"[{keep}{keep.upper()}0-9-]"


def _except(words: list[str]) -> str:
    """A regex for the domain labels other than ``words`` (any case): JSON Schema has no
    "not", so a label either leaves every word's spelling or stops short of a whole word."""
    label = "[A-Za-z0-9-]"
    branches = []
    for prefix in sorted({w[:i] for w in words for i in range(len(w) + 1)}):
        nexts = {w[len(prefix)] for w in words if w.startswith(prefix) and w != prefix}
        fixed = "".join(f"[{c}{c.upper()}]" for c in prefix)
        branches.append(f"{fixed}{_letters_but(nexts)}{label}*")
        if prefix and prefix not in words:
            branches.append(fixed)
    return f"(?:{'|'.join(branches)})"


# email_validator refuses the special-use top-level domains (.test, .local, ...).
TOP_LEVEL = _except(sorted(SPECIAL_USE_DOMAIN_NAMES))
EMAIL_PATTERN = rf"^{SAFE_CHAR}*\.{TOP_LEVEL}$"


def _check_email(value: str) -> str:
    """The services' email rule (email_validator); spaces around it are not an email."""
    if value and value != value.strip():
        raise refused(_("Not a valid email address."))
    if value:
        try:
            clean_email(value)
        except ValidationFailed as error:
            raise refused(next(iter(error.fields.values()))) from None
    return value


def _explain_email(value: str) -> str:
    if UNSAFE_TEXT.search(value):
        return _("Contains characters that are not allowed.")
    return _("Not a valid email address.")


class _Format:
    """Adds JSON Schema keywords pydantic has no constraint for (``format``, ``anyOf``)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        return {**handler.resolve_ref_schema(handler(schema)), **self.keywords}


def _email(required: bool) -> Any:
    """An email address (``required``: not empty; else an empty string clears it)."""
    regex = EMAIL_PATTERN if required else f"^(?:{EMAIL_PATTERN[1:-1]})?$"
    keywords = {"format": "email"} if required else {"anyOf": [{"format": "email"}, {"const": ""}]}
    return Annotated[
        str,
        StringConstraints(min_length=1 if required else None, max_length=254, pattern=regex),
        explain_pattern(_explain_email),
        AfterValidator(_check_email),
        _Format(**keywords),
    ]


Email = _email(True)
OptionalEmail = _email(False)

# ---------------------------------------------------------------------------
# Organizations

BillingType = one_of(("individual", "company"))


class BillingInput(ApiModel):
    type: BillingType = None
    name: text(required=False, description="Defaults to the organization's name.") | None = None
    address: text(1000, required=False, one_line=False) | None = None
    tax_id: text(64, required=False) | None = None
    email: OptionalEmail | None = None


class Billing(ApiModel):
    type: Literal["individual", "company"]
    name: str | None = Field(max_length=200, description="Defaults to the organization's name.")
    address: str | None = Field(max_length=1000)
    tax_id: str | None = Field(max_length=64)
    email: str | None = Field(max_length=254)


class OwnerInvitation(ApiModel):
    """Invited by email to set a password."""

    name: text()
    email: Email


class OrganizationCreate(ApiModel):
    name: text()
    country: Country
    currency: Currency | None = Field(None, description="Defaults from the country")
    timezone: Timezone | None = Field(None, description="Defaults from the country")
    pricing_model: PricingModel
    owner: OwnerInvitation
    billing: BillingInput = None
    credit_limit: decimal("99999999", 2, description="Left out: the price list's default") = None


# An SMS sender (what the services accept once stripped): up to 11 letters, digits, spaces
# and ".&-", or a number of up to 15 digits; blank clears it.
_BLANK = r"[\t\n\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
SENDER_PATTERN = (
    rf"^{_BLANK}*(?:(?:\+?[0-9]{{1,15}}|[A-Za-z0-9][A-Za-z0-9 .&-]{{0,10}}){_BLANK}*)?$"
)


def _explain_sender(value: str) -> str:
    if UNSAFE_TEXT.search(value):
        return _("Contains characters that are not allowed.")
    return _(
        "Use up to 11 letters, digits and spaces (no accents), "
        "or a phone number of up to 15 digits."
    )


SenderName = Annotated[
    str,
    StringConstraints(max_length=20, pattern=SENDER_PATTERN),
    explain_pattern(_explain_sender),
    Field(description="SMS sender"),
]


class SettingsUpdate(ApiModel):
    sender_name: SenderName | None = None
    notification_email: OptionalEmail | None = None
    notification_mobile: text(32, required=False, description="International, +34…") | None = None
    low_balance_alert: bool = None
    low_balance_threshold: integer(0, CREDITS_MAX, description="Credits") = None
    alert_email: OptionalEmail | None = None
    forecast_alert_days: AlertDays = None


class OrganizationSettings(ApiModel):
    sender_name: str | None = Field(max_length=20)
    notification_email: str | None = Field(max_length=254)
    notification_mobile: str | None = Field(max_length=32, description="International, +34…")
    low_balance_alert: bool
    low_balance_threshold: Credits = Field(description="Credits")
    alert_email: str | None = Field(max_length=254)
    forecast_alert_days: AlertDays


class AutoTopUpUpdate(ApiModel):
    enabled: bool = None
    below: integer(0, CREDITS_MAX) = None
    credits: integer(1, CREDITS_MAX) = None
    monthly_limit: integer(
        1,
        MONTHLY_LIMIT_MAX,
        description="At most this many automatic top-ups a calendar month (the platform may "
        "set a lower ceiling)",
    ) = None


class AutoTopUp(ApiModel):
    enabled: bool
    below: Credits
    credits: Credits
    monthly_limit: integer(0, MONTHLY_LIMIT_MAX)


class OrganizationUpdate(ApiModel):
    """Only the fields sent change. Changing pricing_model needs zero balance and debt."""

    name: text() = None
    country: Country = None
    currency: Currency = None
    timezone: Timezone = None
    pricing_model: PricingModel = None
    billing: BillingInput = None
    settings: SettingsUpdate = None
    credit_limit: decimal("99999999", 2, description="Postpaid credit limit (reseller keys)") = None
    individual_user_credits: bool = None
    move_member_credits_to_pool: bool = Field(
        None,
        description="With individual_user_credits false: every member's credits go to the "
        "system pool first, in the same step (transfers referenced individual-credits-off). "
        "Without it, that switch is refused (409 member_credits_remain) while members hold any.",
    )
    auto_top_up: AutoTopUpUpdate = None

    def changes(self) -> dict[str, Any]:
        """The fields sent, by path: ``{"billing.name": "x"}``."""
        return _flatten(self.model_dump(exclude_unset=True))


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


class Organization(ApiModel):
    id: Id
    name: str = Field(max_length=200)
    status: Literal["active", "suspended", "deleted"]
    country: Country
    currency: Currency
    timezone: Timezone
    pricing_model: Literal["prepaid", "postpaid"]
    owner_id: str | None = Field(max_length=40, description="The owner's member id")
    individual_user_credits: bool
    credit_limit: Money
    billing: Billing
    settings: OrganizationSettings
    auto_top_up: AutoTopUp
    forecast: Forecast | None
    created_at: Time


class OrganizationList(ApiModel):
    data: list[Organization] = Field(max_length=100)
    next_cursor: NextCursor


class OrganizationQuery(ListQuery):
    status: one_of(("active", "suspended")) = None
    q: text(description="Name, owner email or billing name") = None
    pricing_model: PricingModel = None
    low_balance: QueryBoolean = None
    has_debt: QueryBoolean = None
    runs_out_within: QueryDays = None
    sort: one_of(("name", "days_left"), description="days_left: soonest to run out first") = None


class SuspendRequest(ApiModel):
    reason: text(500, one_line=False, description="Kept in the audit log")


class EmptyRequest(ApiModel):
    """No fields (an empty body is fine)."""


class OwnershipTransfer(ApiModel):
    """To a member with portal access, at once; the old owner becomes admin. Nothing else
    moves."""

    member_id: text(40)
    reason: text(500, one_line=False, description="Why the owner changes (kept in the audit log)")


# ---------------------------------------------------------------------------
# Members


class MemberCreate(ApiModel):
    name: text()
    email: Email
    mobile: text(32, required=False) | None = None
    role: one_of(("admin", "member"))
    portal_access: bool
    language: (
        one_of(
            tuple(LANGUAGES),
            description="The invitation's language; default the organization's (Spanish for a "
            "Spanish-speaking country)",
        )
        | None
    ) = None


class MemberUpdate(ApiModel):
    name: text() = None
    email: Email = None
    mobile: text(32, required=False) | None = None
    role: one_of(("admin", "member")) = None
    portal_access: bool = None


class Member(ApiModel):
    id: Id
    organization_id: Id
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    mobile: str | None = Field(max_length=32)
    role: Literal["owner", "admin", "member"]
    portal_access: bool
    created_at: Time


class MemberList(ApiModel):
    data: list[Member] = Field(max_length=100)
    next_cursor: NextCursor


# ---------------------------------------------------------------------------
# Errors


class ErrorDetail(ApiModel):
    code: str = Field(max_length=200, description="Stable machine-readable code")
    message: str = Field(max_length=1000, description="In the Accept-Language")
    fields: dict[str, str] = Field(description="Field path → message (422)")


class Error(ApiModel):
    error: ErrorDetail
