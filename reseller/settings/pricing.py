"""Reseller settings: the price list and the tax table, one form per row plus an add form."""

from __future__ import annotations

from decimal import Decimal

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_decimal, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from reseller.settings.blueprint import bp
from tenants.access.policy import Permission
from tenants.core.errors import ValidationFailed
from tenants.core.validation import country_choices, currency_choices
from tenants.jobs.outbox import commit, rollback
from tenants.models import Reseller
from tenants.resellers import pricing
from tenants.web.decorators import actor_required, current_reseller, the_actor
from tenants.web.forms import parse_amount, show_service_errors

NUMBER = [DataRequired(), Length(max=20)]


class PriceRowForm(FlaskForm):
    prepaid_unit_price = StringField(_l("Prepaid unit price"), validators=NUMBER)
    postpaid_unit_price = StringField(_l("Postpaid unit price"), validators=NUMBER)
    submit = SubmitField(_l("Save"))


class AddPriceForm(PriceRowForm):
    currency = SelectField(_l("Currency"), validators=[DataRequired()], validate_choice=False)
    submit = SubmitField(_l("Add currency"))


class TaxRowForm(FlaskForm):
    percent = StringField(_l("Tax percent"), validators=NUMBER)
    submit = SubmitField(_l("Save"))


class AddTaxForm(TaxRowForm):
    country = SelectField(_l("Country"), validators=[DataRequired()], validate_choice=False)
    submit = SubmitField(_l("Add country"))


def _shown(value: Decimal, pattern: str) -> str:
    """A number as the person's locale writes it, without grouping (0,045 in Spanish)."""
    return format_decimal(value, format=pattern)


def _typed_amount(text: str | None) -> Decimal | str:
    """A price or a percent as typed in the reader's locale (tenants.web.forms.parse_amount);
    left empty it stays empty, for the service to ask for it."""
    return parse_amount(text) if (text or "").strip() else ""


def _show_errors(form: FlaskForm, error: ValidationFailed, prefix: str) -> None:
    """The service's ``prefix.field`` errors next to the row form's fields."""
    show_service_errors(form, error, {f"{prefix}.{name}": name for name in form._fields})


@bp.route("/")
@actor_required(Permission.MANAGE_RESELLER_SETTINGS)
def index():
    return redirect(url_for("reseller_settings.price_list"))


# ---------------------------------------------------------------------------
# Price list


def _price_page(reseller: Reseller, *, add_form=None, failed=None, status=200):
    """The price list page; ``failed`` is the (currency, form) of a row that did not save."""
    names = get_locale().currencies
    rows = []
    for price in pricing.get_price_list(reseller):
        if failed and failed[0] == price["currency"]:
            form = failed[1]
        else:
            form = PriceRowForm(
                formdata=None,
                prepaid_unit_price=_shown(price["prepaid_unit_price"], "0.00##"),
                postpaid_unit_price=_shown(price["postpaid_unit_price"], "0.00##"),
            )
        rows.append({**price, "name": names.get(price["currency"], ""), "form": form})
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
            "reseller_settings/prices.html", rows=rows, add_form=add_form, active_tab="prices"
        ),
        status,
    )


def _save_prices(reseller: Reseller, prices: list[dict], form: FlaskForm, index: int, **failed):
    """Replace the price list; on bad input show the errors of row ``index`` on ``form``."""
    try:
        pricing.set_price_list(the_actor(), reseller, prices)
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
    prices = pricing.get_price_list(reseller)
    prices.append(
        {
            "currency": form.currency.data,
            "prepaid_unit_price": _typed_amount(form.prepaid_unit_price.data),
            "postpaid_unit_price": _typed_amount(form.postpaid_unit_price.data),
        }
    )
    failed = _save_prices(reseller, prices, form, len(prices) - 1, add_form=form)
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
    prices[index] = {
        "currency": currency,
        "prepaid_unit_price": _typed_amount(form.prepaid_unit_price.data),
        "postpaid_unit_price": _typed_amount(form.postpaid_unit_price.data),
    }
    failed = _save_prices(reseller, prices, form, index, failed=(currency, form))
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
    pricing.set_price_list(the_actor(), reseller, remaining)
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


def _save_taxes(reseller: Reseller, rates: list[dict], form: FlaskForm, index: int, **failed):
    try:
        pricing.set_tax_rates(the_actor(), reseller, rates)
    except ValidationFailed as error:
        rollback()
        _show_errors(form, error, f"tax_rates[{index}]")
        return _tax_page(reseller, status=422, **failed)
    commit()
    return None


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
    rates = pricing.get_tax_rates(reseller)
    rates.append({"country": form.country.data, "percent": _typed_amount(form.percent.data)})
    failed = _save_taxes(reseller, rates, form, len(rates) - 1, add_form=form)
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
    rates[index] = {"country": country, "percent": _typed_amount(form.percent.data)}
    failed = _save_taxes(reseller, rates, form, index, failed=(country, form))
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
