"""Form helpers every page shares: the one reading of typed numbers and amounts, the one way to
show a service's refusal, select choices and place pickers; forms several pages use."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, parse_decimal
from flask import flash
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import Length, Optional

from tenants.core.errors import DomainError
from tenants.core.validation import country_choices, currency_choices, timezone_names


def choices(*pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def fill_place_choices(form, *, blank: str | None = None) -> None:
    """Localized country names, currencies and timezones; unknown values are refused later."""
    locale = str(get_locale() or "en")
    empty = [("", blank)] if blank else []
    form.country.choices = choices(("", _l("Choose a country")), *country_choices(locale))
    form.currency.choices = choices(*empty, *currency_choices(locale))
    form.timezone.choices = choices(*empty, *[(tz, tz) for tz in sorted(timezone_names())])


def whole_number(value: str | None) -> int | str:
    """Typed credits as an int: plain digits, or digits grouped by thousands ("1,000",
    "1.000", "1 000"); anything else goes to the service as it is, which says what is wrong
    (so "1.5" is refused, not read as 15, and "10.00" is refused, not read as 1000)."""
    text = (value or "").strip()
    if text == "":
        return 0
    if re.fullmatch(r"\d{1,15}", text) or re.fullmatch(r"\d{1,3}([.,\u00a0\u202f ]\d{3})+", text):
        return int(re.sub(r"\D", "", text))
    return text


def parse_amount(value: str | None) -> Decimal | str:
    """A money amount typed in the reader's locale, strictly: "1,000.50" in English and
    "1.000,50" in Spanish are the same amount; "1,5" in English is not guessed but goes to
    the service as typed, which refuses it. Empty is zero."""
    text = (value or "").strip()
    if text == "":
        return Decimal("0")
    try:
        return parse_decimal(text, locale=str(get_locale() or "en"), strict=True)
    except (NumberFormatError, ValueError):
        return text


def show_service_errors(form, error: DomainError, paths: dict[str, str] | None = None) -> None:
    """The one way to show a refusal: each field error next to its field (the service's key
    mapped through ``paths``, else the form's own ``paths``, else the same name); anything
    that has no field, or a refusal without fields, as one flash."""
    paths = paths or getattr(form, "paths", None) or {}
    placed, unplaced = {}, []
    for key, message in (error.fields or {}).items():
        name = paths.get(key, key)
        if form is not None and getattr(form, name, None) is not None:
            placed[name] = message
        else:
            unplaced.append(message)
    for name, message in placed.items():
        field = getattr(form, name)
        field.errors = [*list(field.errors or []), message]
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or str(error), "danger")


# -- API keys: an organization's (tenants.views.api_keys) and a reseller's (reseller.settings)


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[Optional(), Length(max=100)],
        description=_l("Helps you recognize the key later, e.g. “Billing system”."),
    )
    submit = SubmitField(_l("Create API key"))


class RevokeApiKeyForm(FlaskForm):
    """Only the CSRF token."""


# -- small forms several pages post ---------------------------------------------------------


class StartForm(FlaskForm):
    member = SelectField(_l("Act as"), validate_choice=False)
    reason = StringField(
        _l("Reason"),
        validators=[Length(max=500)],
        description=_l("Required, e.g. a ticket number. The organization's admins can read it."),
    )
    submit = SubmitField(_l("Log in as this member"))


class ReturnForm(FlaskForm):
    submit = SubmitField(_l("Return to my account"))


class RemoveCardForm(FlaskForm):
    submit = SubmitField(_l("Remove card"))
