"""Reseller settings: the price list (with the default credit limit of new postpaid
organizations per currency) and the tax table, one form per row plus an add form."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial

from babel.numbers import get_currency_precision
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import CurrencyInUse, ValidationFailed
from tenants.core.validation import country_choices, currency_choices
from tenants.jobs.outbox import commit, rollback
from tenants.models import Reseller
from tenants.resellers import currency_use, pricing
from tenants.web.decorators import actor_required, current_reseller, the_actor
from tenants.web.forms import Form, parse_amount, show_service_errors

NUMBER = [DataRequired(), Length(max=20)]


class PriceRowForm(Form):
    prepaid_unit_price = StringField(_l("Prepaid unit price"), validators=NUMBER)
    postpaid_unit_price = StringField(_l("Postpaid unit price"), validators=NUMBER)
    default_credit_limit = StringField(
        _l("Default credit limit"),
        validators=[Length(max=20)],
        description=_l("New postpaid organizations paying in this currency start with it."),
    )
    submit = SubmitField(_l("Save"))


class AddPriceForm(PriceRowForm):
    currency = SelectField(_l("Currency"), validators=[DataRequired()], validate_choice=False)
    submit = SubmitField(_l("Add currency"))


class TaxRowForm(Form):
    percent = StringField(_l("Tax percent"), validators=NUMBER)
    submit = SubmitField(_l("Save"))


class AddTaxForm(TaxRowForm):
    country = SelectField(_l("Country"), validators=[DataRequired()], validate_choice=False)
    submit = SubmitField(_l("Add country"))


def _shown(value: Decimal, pattern: str) -> str:
    """A number as the person's locale writes it, without grouping (0,045 in Spanish)."""
    return format_decimal(value, format=pattern)


def _typed_amount(text: str | None, field: str, places: int) -> Decimal | str:
    """A price or a percent as typed in the reader's locale (tenants.web.forms.parse_amount,
    which refuses what it cannot read for sure); left empty it stays empty, for the service
    to ask for it."""
    return parse_amount(text, field, places) if (text or "").strip() else ""


def _typed(form: Form, readers: dict[str, Callable]) -> tuple[dict, dict[str, str]]:
    """The row's numbers as ``readers`` read them, and the errors of those that cannot be
    read; one unreadable is left empty (a price) or out (a default credit limit), so the
    service still checks the others and every problem shows at once."""
    row: dict[str, Decimal | str] = {}
    errors: dict[str, str] = {}
    for name, read in readers.items():
        try:
            row[name] = read(getattr(form, name).data)
        except ValidationFailed as error:
            errors.update(error.fields)
            if name != "default_credit_limit":
                row[name] = ""
    return row, errors


def _typed_prices(form: Form, currency: str) -> tuple[dict, dict[str, str]]:
    """A price row's three numbers as typed (the default credit limit empty is 0)."""
    places = pricing.PRICE_PLACES
    return _typed(
        form,
        {
            "prepaid_unit_price": lambda text: _typed_amount(text, "prepaid_unit_price", places),
            "postpaid_unit_price": lambda text: _typed_amount(text, "postpaid_unit_price", places),
            "default_credit_limit": lambda text: parse_amount(
                text, "default_credit_limit", get_currency_precision(currency)
            ),
        },
    )


def _save_rows(save: Callable[[], None], index: int, unread: dict[str, str], path: str) -> None:
    """``save`` the rows, row ``index`` typed with ``unread`` the numbers that could not be
    read there: those errors and the service's are raised together."""
    unread = {f"{path}[{index}].{name}": message for name, message in unread.items()}
    try:
        save()
    except ValidationFailed as error:
        raise ValidationFailed(fields={**error.fields, **unread}) from error
    if unread:
        raise ValidationFailed(fields=unread)


def _show_errors(form: Form, error: ValidationFailed, prefix: str) -> None:
    """The service's ``prefix.field`` errors next to the row form's fields."""
    show_service_errors(form, error, {f"{prefix}.{name}": name for name in form._fields})


@bp.route("/")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def index():
    return redirect(url_for("reseller_settings.price_list"))


# ---------------------------------------------------------------------------
# Price list


def _price_page(reseller: Reseller, *, add_form=None, failed=None, refusal=None, status=200):
    """The price list page; ``failed`` is the (currency, form) of a row that did not save,
    ``refusal`` the CurrencyInUse of a currency that could not be removed."""
    names = get_locale().currencies
    customers = currency_use.organizations_by_currency(the_actor(), reseller)
    rows = []
    for price in pricing.get_price_list(reseller):
        if failed and failed[0] == price["currency"]:
            form = failed[1]
        else:
            places = get_currency_precision(price["currency"])
            form = PriceRowForm(
                formdata=None,
                prepaid_unit_price=_shown(price["prepaid_unit_price"], "0.00##"),
                postpaid_unit_price=_shown(price["postpaid_unit_price"], "0.00##"),
                default_credit_limit=_shown(
                    price["default_credit_limit"], "0." + "0" * places if places else "0"
                ),
            )
        rows.append(
            {
                **price,
                "name": names.get(price["currency"], ""),
                "form": form,
                "customers": customers.get(price["currency"], 0),
            }
        )
    if add_form is None:
        add_form = AddPriceForm(formdata=None)
    listed = {row["currency"] for row in rows}
    add_form.currency.choices = [SelectChoice("", _("Choose a currency"))] + [
        SelectChoice(code, label)
        for code, label in currency_choices(str(get_locale()))
        if code not in listed
    ]
    return (
        render_template(
            "reseller_settings/prices.html",
            rows=rows,
            add_form=add_form,
            refusal=refusal,
            active_tab="prices",
        ),
        status,
    )


def _save_prices(reseller: Reseller, change: Callable, form: Form, **failed):
    """Replace the price list as ``change`` edits it (it returns the index of the row it
    typed and what could not be read there); on bad input show that row's errors on
    ``form``."""
    prices = pricing.get_price_list(reseller)
    index, unread = change(prices)
    try:
        save = partial(pricing.set_price_list, the_actor(), reseller, prices)
        _save_rows(save, index, unread, "prices")
    except ValidationFailed as error:
        rollback()
        _show_errors(form, error, f"prices[{index}]")
        return _price_page(reseller, status=422, **failed)
    commit()
    return None


@bp.route("/prices")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def price_list():
    return _price_page(current_reseller()[1])


@bp.route("/prices/add", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def add_price():
    reseller = current_reseller()[1]
    form = AddPriceForm()
    if not form.validate_on_submit():
        return _price_page(reseller, add_form=form, status=422)

    def add(prices: list[dict]) -> tuple[int, dict]:
        typed, unread = _typed_prices(form, form.currency.data)
        prices.append({"currency": form.currency.data, **typed})
        return len(prices) - 1, unread

    failed = _save_prices(reseller, add, form, add_form=form)
    if failed:
        return failed
    flash(_("%(currency)s added to the price list.", currency=form.currency.data), "success")
    return redirect(url_for("reseller_settings.price_list"))


@bp.route("/prices/<currency>", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def update_price(currency: str):
    reseller = current_reseller()[1]
    prices = pricing.get_price_list(reseller)
    index = next((i for i, p in enumerate(prices) if p["currency"] == currency), None)
    if index is None:
        abort(404)
    form = PriceRowForm()
    if not form.validate_on_submit():
        return _price_page(reseller, failed=(currency, form), status=422)

    def change(prices: list[dict]) -> tuple[int, dict]:
        typed, unread = _typed_prices(form, currency)
        prices[index] = {"currency": currency, **typed}
        return index, unread

    failed = _save_prices(reseller, change, form, failed=(currency, form))
    if failed:
        return failed
    flash(_("The prices in %(currency)s were saved.", currency=currency), "success")
    return redirect(url_for("reseller_settings.price_list"))


@bp.route("/prices/<currency>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def remove_price(currency: str):
    reseller = current_reseller()[1]
    prices = pricing.get_price_list(reseller)
    remaining = [p for p in prices if p["currency"] != currency]
    if len(remaining) == len(prices):
        abort(404)
    try:
        pricing.set_price_list(the_actor(), reseller, remaining)
    except CurrencyInUse as refusal:
        rollback()
        return _price_page(reseller, refusal=refusal, status=refusal.status)
    commit()
    flash(_("%(currency)s was removed from the price list.", currency=currency), "success")
    return redirect(url_for("reseller_settings.price_list"))


# ---------------------------------------------------------------------------
# Tax table


def _tax_page(reseller: Reseller, *, add_form=None, failed=None, status=200):
    """The tax table page; ``failed`` is the (country, form) of a row that did not save."""
    names = get_locale().territories
    rows = []
    for rate in pricing.get_tax_rates(reseller):
        if failed and failed[0] == rate["country"]:
            form = failed[1]
        else:
            form = TaxRowForm(formdata=None, percent=_shown(rate["percent"], "0.###"))
        rows.append({**rate, "name": names.get(rate["country"], rate["country"]), "form": form})
    rows.sort(key=lambda row: row["name"].casefold())
    if add_form is None:
        add_form = AddTaxForm(formdata=None)
    listed = {row["country"] for row in rows}
    add_form.country.choices = [SelectChoice("", _("Choose a country"))] + [
        SelectChoice(code, label)
        for code, label in country_choices(str(get_locale()))
        if code not in listed
    ]
    return (
        render_template(
            "reseller_settings/taxes.html", rows=rows, add_form=add_form, active_tab="taxes"
        ),
        status,
    )


def _save_taxes(reseller: Reseller, change: Callable, form: Form, **failed):
    """Replace the tax table as ``change`` edits it (as _save_prices); on bad input show
    that row's errors on ``form``."""
    rates = pricing.get_tax_rates(reseller)
    index, unread = change(rates)
    try:
        save = partial(pricing.set_tax_rates, the_actor(), reseller, rates)
        _save_rows(save, index, unread, "tax_rates")
    except ValidationFailed as error:
        rollback()
        _show_errors(form, error, f"tax_rates[{index}]")
        return _tax_page(reseller, status=422, **failed)
    commit()
    return None


def _typed_percent(form: Form) -> tuple[dict, dict[str, str]]:
    places = pricing.PERCENT_PLACES
    return _typed(form, {"percent": lambda text: _typed_amount(text, "percent", places)})


@bp.route("/taxes")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def tax_table():
    return _tax_page(current_reseller()[1])


@bp.route("/taxes/add", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def add_tax():
    reseller = current_reseller()[1]
    form = AddTaxForm()
    if not form.validate_on_submit():
        return _tax_page(reseller, add_form=form, status=422)

    def add(rates: list[dict]) -> tuple[int, dict]:
        typed, unread = _typed_percent(form)
        rates.append({"country": form.country.data, **typed})
        return len(rates) - 1, unread

    failed = _save_taxes(reseller, add, form, add_form=form)
    if failed:
        return failed
    country = get_locale().territories.get(form.country.data.upper(), form.country.data)
    flash(_("%(country)s added to the tax table.", country=country), "success")
    return redirect(url_for("reseller_settings.tax_table"))


@bp.route("/taxes/<country>", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def update_tax(country: str):
    reseller = current_reseller()[1]
    rates = pricing.get_tax_rates(reseller)
    index = next((i for i, r in enumerate(rates) if r["country"] == country), None)
    if index is None:
        abort(404)
    form = TaxRowForm()
    if not form.validate_on_submit():
        return _tax_page(reseller, failed=(country, form), status=422)

    def change(rates: list[dict]) -> tuple[int, dict]:
        typed, unread = _typed_percent(form)
        rates[index] = {"country": country, **typed}
        return index, unread

    failed = _save_taxes(reseller, change, form, failed=(country, form))
    if failed:
        return failed
    name = get_locale().territories.get(country, country)
    flash(_("The tax rate for %(country)s was saved.", country=name), "success")
    return redirect(url_for("reseller_settings.tax_table"))


@bp.route("/taxes/<country>/remove", methods=["POST"])
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def remove_tax(country: str):
    reseller = current_reseller()[1]
    rates = pricing.get_tax_rates(reseller)
    remaining = [r for r in rates if r["country"] != country]
    if len(remaining) == len(rates):
        abort(404)
    pricing.set_tax_rates(the_actor(), reseller, remaining)
    commit()
    name = get_locale().territories.get(country, country)
    flash(
        _("%(country)s was removed from the tax table; it now pays no tax.", country=name),
        "success",
    )
    return redirect(url_for("reseller_settings.tax_table"))
