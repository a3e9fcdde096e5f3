"""Form helpers every page shares (select choices, place pickers, a service's errors shown),
and the forms both the organization's and the reseller's pages use (API keys)."""

from __future__ import annotations

from flask import flash
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, StringField, SubmitField
from wtforms.validators import Length, Optional

from tenants.core.errors import DomainError, ValidationFailed
from tenants.core.validation import country_choices, currency_choices, timezone_names
from tenants.web.decorators import apply_field_errors


def choices(*pairs) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def fill_place_choices(form, *, blank: str | None = None) -> None:
    """Localized country names, currencies and timezones; unknown values are refused later."""
    locale = str(get_locale() or "en")
    empty = [("", blank)] if blank else []
    form.country.choices = choices(("", _l("Choose a country")), *country_choices(locale))
    form.currency.choices = choices(*empty, *currency_choices(locale))
    form.timezone.choices = choices(*empty, *[(tz, tz) for tz in sorted(timezone_names())])


def show_field_errors(form, error: DomainError) -> None:
    """Put a service's errors (keyed by API paths) next to the form's fields; flash the rest."""
    paths = getattr(form, "paths", {})
    mapped, unplaced = {}, []
    for path, message in error.fields.items():
        name = paths.get(path)
        if name is not None and hasattr(form, name):
            mapped[name] = message
        else:
            unplaced.append(message)
    apply_field_errors(form, ValidationFailed(fields=mapped))
    if unplaced or not error.fields:
        flash(" ".join(unplaced) or str(error), "error")


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
