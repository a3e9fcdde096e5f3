"""A reseller's price list and tax table: read, replace as a whole, and the lookups billing uses.

The portal and the JSON API both call ``set_price_list`` / ``set_tax_rates`` with plain
lists of dicts; every problem is reported at once, keyed like ``prices[0].currency``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import currency_places
from tenants.core.validation import clean_country, clean_currency, read_decimal
from tenants.models import PriceListEntry, PricingModel, Reseller, TaxRate
from tenants.resellers.currency_use import refuse_removing_used_currencies

PRICE_LIMIT = Decimal("1000000")  # exclusive; NUMERIC(12, 4) holds 8 integer digits
PRICE_PLACES = 4
PERCENT_LIMIT = Decimal("100")  # inclusive
PERCENT_PLACES = 3  # 8.875 % (New York City) needs three
CREDIT_LIMIT_MAX = Decimal("99999999")  # NUMERIC(12, 4) holds 8 integer digits


# ---------------------------------------------------------------------------
# Reading


def _tidy(value: Decimal, min_places: int) -> Decimal:
    """Drop the storage scale's trailing zeros (0.0450 → 0.045) but keep ``min_places``."""
    normalized = value.normalize()
    places = max(-normalized.as_tuple().exponent, min_places)
    return value.quantize(Decimal(1).scaleb(-places))


def get_price_list(reseller: Reseller) -> list[dict[str, Any]]:
    """``[{currency, prepaid_unit_price, postpaid_unit_price, default_credit_limit}]``
    (Decimals), by currency."""
    entries = db.session.scalars(
        select(PriceListEntry)
        .where(PriceListEntry.reseller_id == reseller.id)
        .order_by(PriceListEntry.currency)
    )
    return [
        {
            "currency": entry.currency,
            "prepaid_unit_price": _tidy(entry.prepaid_unit_price, 2),
            "postpaid_unit_price": _tidy(entry.postpaid_unit_price, 2),
            "default_credit_limit": _tidy(
                entry.default_credit_limit, currency_places(entry.currency)
            ),
        }
        for entry in entries
    ]


def get_tax_rates(reseller: Reseller) -> list[dict[str, Any]]:
    """``[{country, percent}]`` (percent a Decimal), by country code."""
    rates = db.session.scalars(
        select(TaxRate).where(TaxRate.reseller_id == reseller.id).order_by(TaxRate.country)
    )
    return [{"country": rate.country, "percent": _tidy(rate.percent, 0)} for rate in rates]


def unit_price(
    reseller_id: str, currency: str, pricing_model: PricingModel | str
) -> Decimal | None:
    """The price of one credit in ``currency`` for the pricing model; None when not listed."""
    entry = db.session.scalar(
        select(PriceListEntry).where(
            PriceListEntry.reseller_id == reseller_id,
            PriceListEntry.currency == (currency or "").upper(),
        )
    )
    if entry is None:
        return None
    if PricingModel(pricing_model) == PricingModel.POSTPAID:
        return entry.postpaid_unit_price
    return entry.prepaid_unit_price


def default_credit_limit(reseller_id: str, currency: str) -> Decimal:
    """The credit limit a new postpaid organization paying in ``currency`` starts with: the
    reseller's default for it, 0 when it sets none or does not list the currency."""
    limit = db.session.scalar(
        select(PriceListEntry.default_credit_limit).where(
            PriceListEntry.reseller_id == reseller_id,
            PriceListEntry.currency == (currency or "").upper(),
        )
    )
    return limit if limit is not None else Decimal("0")


def tax_percent(reseller_id: str, country: str) -> Decimal:
    """The tax percent for customers in ``country``; a country not listed pays 0."""
    percent = db.session.scalar(
        select(TaxRate.percent).where(
            TaxRate.reseller_id == reseller_id, TaxRate.country == (country or "").upper()
        )
    )
    return percent if percent is not None else Decimal("0")


# ---------------------------------------------------------------------------
# Validation


def _clean_amount(value: Any, *, places: int, limit: Decimal, inclusive: bool) -> Decimal:
    """A non-negative Decimal with at most ``places`` decimals below ``limit``, else ValueError
    carrying the message to show."""
    if isinstance(value, bool) or value is None:
        raise ValueError(_l("Enter a number."))
    amount = read_decimal(value, floats=True)
    if amount is None:
        raise ValueError(_l("Enter a number, e.g. %(example)s.", example="0.045"))
    if amount < 0:
        raise ValueError(_l("Must be zero or more."))
    if amount > limit or (amount == limit and not inclusive):
        if inclusive:
            raise ValueError(_l("Must be at most %(limit)s.", limit=format_decimal(limit)))
        raise ValueError(_l("Must be less than %(limit)s.", limit=format_decimal(limit)))
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(_l("Use at most %(n)d decimals.", n=places))
    return amount.quantize(Decimal(1).scaleb(-places))


def clean_credit_limit(value: Any, currency: str, path: str = "credit_limit") -> Decimal:
    """A credit limit: a decimal (text, int or Decimal; never a float) from 0 to 99,999,999
    with at most the currency's decimals."""
    amount = read_decimal(value)
    if amount is None:
        raise ValidationFailed(fields={path: str(_l("Enter an amount such as 1500.00."))})
    if amount < 0 or amount > CREDIT_LIMIT_MAX:
        raise ValidationFailed(fields={path: str(_l("Enter an amount between 0 and 99,999,999."))})
    places = currency_places(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise ValidationFailed(fields={path: str(_l("Use at most %(n)d decimals.", n=places))})
    return amount


def _rows(value: Any, name: str) -> list[dict]:
    if not isinstance(value, list | tuple):
        raise ValidationFailed(fields={name: str(_l("Must be a list."))})
    return list(value)


def _clean_keyed_rows(
    value: Any,
    name: str,
    key: str,
    clean_key: Callable[[Any, str], str],
    duplicate: str,
    amounts: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Rows of ``name`` (a price list, a tax table), each unique on ``key`` (cleaned by
    ``clean_key``) with the decimal ``amounts`` (field -> _clean_amount's limits); every
    problem is reported at once, keyed like ``prices[0].currency``."""
    rows = _rows(value, name)
    errors: dict[str, str] = {}
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        path = f"{name}[{index}]"
        if not isinstance(row, dict):
            errors[path] = str(_l("Must be an object."))
            continue
        item: dict[str, Any] = {}
        try:
            item[key] = clean_key(row.get(key), f"{path}.{key}")
        except ValidationFailed as error:
            errors.update(error.fields)
        else:
            if item[key] in seen:
                errors[f"{path}.{key}"] = duplicate
            seen.add(item[key])
        for field, limits in amounts.items():
            try:
                item[field] = _clean_amount(row.get(field), **limits)
            except ValueError as error:
                errors[f"{path}.{field}"] = str(error.args[0])
        cleaned.append(item)
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


_PRICE = {"places": PRICE_PLACES, "limit": PRICE_LIMIT, "inclusive": False}
_PERCENT = {"places": PERCENT_PLACES, "limit": PERCENT_LIMIT, "inclusive": True}


def _default_credit_limits(prices: Any) -> tuple[dict[int, Decimal], dict[str, str]]:
    """Each row's ``default_credit_limit`` that is given, cleaned with its currency's
    decimals (by row index), and the errors."""
    limits: dict[int, Decimal] = {}
    errors: dict[str, str] = {}
    for index, row in enumerate(prices if isinstance(prices, list | tuple) else ()):
        if not isinstance(row, dict) or row.get("default_credit_limit") is None:
            continue
        currency = row.get("currency")
        path = f"prices[{index}].default_credit_limit"
        try:
            limits[index] = clean_credit_limit(
                row["default_credit_limit"], currency if isinstance(currency, str) else "", path
            )
        except ValidationFailed as error:
            errors.update(error.fields)
    return limits, errors


def _clean_price_list(prices: Any) -> list[dict[str, Any]]:
    """The rows cleaned; a row without ``default_credit_limit`` keeps the one it has (0 for
    a new currency)."""
    limits, errors = _default_credit_limits(prices)
    try:
        cleaned = _clean_keyed_rows(
            prices,
            "prices",
            "currency",
            clean_currency,
            str(_l("This currency is listed more than once.")),
            {"prepaid_unit_price": _PRICE, "postpaid_unit_price": _PRICE},
        )
    except ValidationFailed as error:
        raise ValidationFailed(fields={**error.fields, **errors}) from error
    if errors:
        raise ValidationFailed(fields=errors)
    for index, limit in limits.items():
        cleaned[index]["default_credit_limit"] = limit
    return cleaned


def _clean_tax_rates(rates: Any) -> list[dict[str, Any]]:
    return _clean_keyed_rows(
        rates,
        "tax_rates",
        "country",
        clean_country,
        str(_l("This country is listed more than once.")),
        {"percent": _PERCENT},
    )


# ---------------------------------------------------------------------------
# Replacing


def _authorize(actor: Actor, reseller: Reseller) -> Reseller:
    """Reseller admins of this reseller only; another reseller's settings are a 404.

    The reseller row is locked so two admins saving at once replace the list one after the
    other instead of colliding on the unique (reseller, currency/country) constraint.
    """
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    scoping.get_reseller(actor, reseller.id)
    db.session.execute(select(Reseller.id).where(Reseller.id == reseller.id).with_for_update())
    return reseller


def _plain_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: str(v) for k, v in row.items()} for row in rows]


def _replace_rows(
    actor: Actor,
    reseller: Reseller,
    model,
    key: str,
    cleaned: list[dict[str, Any]],
    read,
    action: str,
    field: str,
) -> None:
    """Make the reseller's ``model`` rows exactly ``cleaned`` (matched on ``key``); audited."""
    before = read(reseller)
    existing = {
        getattr(row, key): row
        for row in db.session.scalars(select(model).where(model.reseller_id == reseller.id))
    }
    wanted = {item[key] for item in cleaned}
    for value, row in existing.items():
        if value not in wanted:
            db.session.delete(row)
    # Deletes first: the unit of work would otherwise insert before it deletes.
    db.session.flush()
    for item in cleaned:
        row = existing.get(item[key])
        if row is None:
            db.session.add(model(reseller_id=reseller.id, **item))
        else:
            for name, value in item.items():
                setattr(row, name, value)
    db.session.flush()
    after = read(reseller)
    if _plain_rows(before) != _plain_rows(after):
        audit.record(
            actor,
            action,
            reseller_id=reseller.id,
            target_type="reseller",
            target_id=reseller.id,
            changes={field: [_plain_rows(before), _plain_rows(after)]},
        )
        db.session.flush()


def set_price_list(actor: Actor, reseller: Reseller, prices: list[dict]) -> None:
    """Replace the whole price list with ``prices`` (validated, audited, flushed); a currency
    customers pay in cannot be left out (CurrencyInUse names them, nothing changes)."""
    _authorize(actor, reseller)
    cleaned = _clean_price_list(prices)
    refuse_removing_used_currencies(actor, reseller, {row["currency"] for row in cleaned})
    _replace_rows(
        actor,
        reseller,
        PriceListEntry,
        "currency",
        cleaned,
        get_price_list,
        "reseller.price_list_changed",
        "prices",
    )


def set_tax_rates(actor: Actor, reseller: Reseller, rates: list[dict]) -> None:
    """Replace the whole tax table with ``rates`` (validated, audited, flushed)."""
    _authorize(actor, reseller)
    cleaned = _clean_tax_rates(rates)
    _replace_rows(
        actor,
        reseller,
        TaxRate,
        "country",
        cleaned,
        get_tax_rates,
        "reseller.tax_rates_changed",
        "tax_rates",
    )
