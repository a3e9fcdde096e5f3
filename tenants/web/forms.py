"""Form helpers every page shares: the one reading of typed numbers and amounts, the one way to
show a service's refusal, select choices and place pickers; forms several pages use."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import NumberFormatError, format_decimal, get_group_symbol, parse_decimal
from flask import flash, g, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import Length, Optional, ValidationError

from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.validation import (
    country_choices,
    currency_choices,
    text_problem,
    timezone_names,
)

# Per request (on ``g``): the forms made, and the status of a refusal shown without a form.
_FORMS = "_forms"
_REFUSAL = "_refusal_status"


def plain_text(_form, field) -> None:
    """The one text rule on a form field holding text: no control characters, and one line
    unless the field is a text area (tenants.core.validation.text_problem)."""
    if isinstance(field.data, str) and field.data:
        problem = text_problem(field.data, one_line=not isinstance(field, TextAreaField))
        if problem:
            raise ValidationError(problem)


class Form(FlaskForm):
    """The base of every form of the portal (FlaskForm: CSRF, request data).

    Every field that holds text (text inputs and their kinds, hidden fields, text areas, and
    the typed value of a select or a radio, which a forged post may set to anything; not
    passwords, which are never stored or shown) refuses control characters, and line breaks
    unless it is a text area, besides its own validators. A form made during a POST whose
    page shows it with errors makes that page answer 422 (tenants.web.request_input).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if has_request_context():
            g.setdefault(_FORMS, []).append(self)

    def validate(self, extra_validators=None) -> bool:
        extra = {name: list(checks) for name, checks in (extra_validators or {}).items()}
        for field in self:
            if not isinstance(field, PasswordField):
                extra.setdefault(field.name, []).insert(0, plain_text)
        return super().validate(extra_validators=extra)


def refusal_status() -> int | None:
    """The status a page shown after a refused POST answers: the refusal's own 4xx when one
    was shown with ``show_service_errors``, else 422 when a form of the request has errors."""
    shown = g.get(_REFUSAL)
    if shown:
        return shown
    return 422 if any(form.errors for form in g.get(_FORMS, ())) else None


def choices(*pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def fill_place_choices(form, *, blank: str | None = None) -> None:
    """Localized country names, currencies and timezones; unknown values are refused later."""
    locale = str(get_locale() or "en")
    empty = [("", blank)] if blank else []
    form.country.choices = choices(("", _l("Choose a country")), *country_choices(locale))
    form.currency.choices = choices(*empty, *currency_choices(locale))
    form.timezone.choices = choices(*empty, *[(tz, tz) for tz in sorted(timezone_names())])


def _reader_locale() -> str:
    return str(get_locale() or "en")


def whole_number(value: str | None) -> int | str:
    """Typed credits as an int: plain digits, or digits grouped by thousands with the reader's
    group symbol ("1,000" in English, "1.000" in Spanish) or a space; anything else goes to
    the service as it is, which says what is wrong (so "1.5" is refused, not read as 15,
    "10.00" is refused, not read as 1000, and an English "1.000" is not guessed)."""
    text = (value or "").strip()
    if text == "":
        return 0
    group = re.escape(get_group_symbol(_reader_locale()))
    if (
        re.fullmatch(r"\d{1,15}", text)
        or re.fullmatch(rf"\d{{1,3}}(?:{group}\d{{3}})+", text)
        or re.fullmatch(r"\d{1,3}(?:[\u00a0\u202f ]\d{3})+", text)
    ):
        return int(re.sub(r"\D", "", text))
    return text


# What may be a number at all: a sign, digits, and the separators some locale uses. Babel's
# strict parse then decides in the reader's locale (it would also take "1e3" or "NaN").
_NUMBER_TEXT = re.compile(r"[-+]?[0-9][0-9.,'\u00a0\u202f ]*")


def amount_example() -> str:
    """How the reader writes an amount with thousands and decimals: 1,234.56 or 1.234,56."""
    return format_decimal(Decimal("1234.56"), locale=_reader_locale())


def parse_amount(value: str | None, field: str = "amount", places: int | None = None) -> Decimal:
    """A money amount typed in the reader's locale, strictly: "1,000.50" in English and
    "1.000,50" in Spanish are the same amount, "1,000" is a thousand in English and "1.000"
    in Spanish. Anything ambiguous or malformed ("1,5" in English, "12.50" in Spanish,
    "1e3") is never guessed: ValidationFailed on ``field``, saying how to write it. With
    ``places`` (the currency's decimals), more decimal digits than that are refused even when
    they are zeros: an English "1.000" may mean a thousand, so it is not read as 1. Empty is
    zero (the service then says whether zero will do)."""
    text = (value or "").strip()
    if text == "":
        return Decimal("0")
    number = None
    if _NUMBER_TEXT.fullmatch(text):
        try:
            number = parse_decimal(text, locale=_reader_locale(), strict=True)
        except (NumberFormatError, ValueError):
            number = None
    if number is None or not number.is_finite():
        raise ValidationFailed(
            fields={field: _("Write the amount like %(example)s.", example=amount_example())}
        )
    if places is not None and -number.as_tuple().exponent > places:
        raise ValidationFailed(fields={field: _("Use at most %(n)d decimals.", n=places)})
    return number


def show_service_errors(form, error: DomainError, paths: dict[str, str] | None = None) -> None:
    """The one way to show a refusal: each field error next to its field (the service's key
    mapped through ``paths``, else the form's own ``paths``, else the same name); anything
    that has no field, or a refusal without fields, as one flash."""
    paths = paths or getattr(form, "paths", None) or {}
    g.setdefault(_REFUSAL, error.status if 400 <= error.status < 500 else 422)
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


class ApiKeyForm(Form):
    name = StringField(
        _l("Name"),
        validators=[Optional(), Length(max=100)],
        description=_l("Helps you recognize the key later, e.g. “Billing system”."),
    )
    submit = SubmitField(_l("Create API key"))


class RevokeApiKeyForm(Form):
    """Only the CSRF token."""


# -- small forms several pages post ---------------------------------------------------------


class StartForm(Form):
    member = SelectField(_l("Act as"), validate_choice=False)
    reason = StringField(
        _l("Reason"),
        validators=[Length(max=500)],
        description=_l("Required, e.g. a ticket number. The organization's admins can read it."),
    )
    # Checked by the service (tenants.support.sessions.clean_mode), which says what is wrong.
    mode = RadioField(
        _l("Mode"),
        choices=choices(("view", _l("View only")), ("change", _l("Make changes"))),
        default="view",
        validate_choice=False,
        description=_l(
            "View only refuses every change. Making changes emails the organization's admins."
        ),
    )
    submit = SubmitField(_l("Log in as this member"))


class ReturnForm(Form):
    submit = SubmitField(_l("Return to my account"))


class RemoveCardForm(Form):
    submit = SubmitField(_l("Remove card"))
