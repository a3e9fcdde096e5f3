"""Checks shared by forms, services and the API: countries, currencies, timezones, phones,
bank accounts."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import phonenumbers
from babel import Locale
from babel.core import get_global
from babel.numbers import get_territory_currencies
from email_validator import EmailNotValidError, validate_email
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from stdnum import iban as stdnum_iban
from stdnum.exceptions import ValidationError as StdnumInvalid

from tenants.core.errors import ValidationFailed

# Where a country spans several zones, the one most of its people live in.
PRIMARY_ZONES = {
    "US": "America/New_York",
    "MX": "America/Mexico_City",
    "ES": "Europe/Madrid",
    "CA": "America/Toronto",
    "BR": "America/Sao_Paulo",
    "AU": "Australia/Sydney",
    "RU": "Europe/Moscow",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "PT": "Europe/Lisbon",
    "EC": "America/Guayaquil",
    "DE": "Europe/Berlin",
    "ID": "Asia/Jakarta",
    "CN": "Asia/Shanghai",
    "KZ": "Asia/Almaty",
    "NZ": "Pacific/Auckland",
}


@cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes that name a real country (no regions such as 001 or EU)."""
    names = Locale("en").territories
    return frozenset(
        code
        for code in names
        if len(code) == 2
        and code.isalpha()
        and code not in {"EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"}
    )


@cache
def currency_codes() -> frozenset[str]:
    return frozenset(code for code in Locale("en").currencies if len(code) == 3 and code.isalpha())


@cache
def timezone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def default_currency(country: str) -> str | None:
    currencies = get_territory_currencies(country.upper()) if country else []
    return currencies[0] if currencies else None


def default_timezone(country: str) -> str | None:
    country = (country or "").upper()
    if country in PRIMARY_ZONES:
        return PRIMARY_ZONES[country]
    zones = [z for z in get_global("territory_zones").get(country, []) if z in timezone_names()]
    return zones[0] if zones else None


def country_choices(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).territories
    return sorted(
        ((code, names.get(code, code)) for code in country_codes()),
        key=lambda item: unicodedata.normalize("NFKD", item[1]).casefold(),
    )


def currency_choices(locale: str) -> list[tuple[str, str]]:
    names = Locale.parse(locale).currencies
    return sorted(((c, f"{c} — {names.get(c, c)}") for c in currency_codes()), key=lambda i: i[0])


# The one text rule. Control characters (Unicode category Cc: C0, DEL and C1) and lone
# surrogates are refused everywhere: PostgreSQL cannot store NUL, UTF-8 cannot encode a
# surrogate, and none belongs in a name, a reference or an email header. One-line text (names,
# references, search strings: anything that may end up in a header or a CSV cell) also refuses
# tabs and line breaks, the Unicode line and paragraph separators included; multi-line text
# (addresses, reasons, messages) keeps tab, line feed and carriage return. The classes are also
# the API schemas' patterns (reseller.api.spec; surrogates aside, which pydantic refuses first).
CONTROL_CHARS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
LINE_BREAKS = r"\t\n\r\u2028\u2029"


def unsafe_chars(one_line: bool = True) -> str:
    """The character class (without brackets) of what ``one_line`` or multi-line text refuses."""
    return CONTROL_CHARS + LINE_BREAKS if one_line else CONTROL_CHARS


_UNSAFE = {flag: re.compile(f"[{unsafe_chars(flag)}\\ud800-\\udfff]") for flag in (True, False)}
_BREAK = re.compile(r"[\n\r\u2028\u2029]")


def text_problem(value: str, one_line: bool = True) -> str | None:
    """Why ``value`` may not be stored as text, in the reader's language; None if it may."""
    if not _UNSAFE[one_line].search(value):
        return None
    if one_line and _BREAK.search(value) and not _UNSAFE[True].search(_BREAK.sub(" ", value)):
        return str(_l("Write this on one line."))
    return str(_l("Contains characters that are not allowed."))


def clean_text(
    value, field: str, *, max_length: int, required: bool = True, one_line: bool = True
) -> str | None:
    """Strip, refuse control characters (line breaks too, ``one_line``) and over-long values;
    None for an empty optional."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(fields={field: str(_l("Must be text."))})
    value = value.strip()
    if not value:
        if required:
            raise ValidationFailed(fields={field: str(_l("This field is required."))})
        return None
    if len(value) > max_length:
        raise ValidationFailed(
            fields={field: str(_l("Use at most %(n)d characters.", n=max_length))}
        )
    problem = text_problem(value, one_line)
    if problem:
        raise ValidationFailed(fields={field: problem})
    return value


def clean_country(value, field: str = "country") -> str:
    code = (value or "").strip().upper() if isinstance(value, str) else ""
    if code not in country_codes():
        raise ValidationFailed(fields={field: str(_l("Unknown country."))})
    return code


def clean_currency(value, field: str = "currency") -> str:
    code = (value or "").strip().upper() if isinstance(value, str) else ""
    if code not in currency_codes():
        raise ValidationFailed(fields={field: str(_l("Unknown currency."))})
    return code


def clean_timezone(value, field: str = "timezone") -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if name not in timezone_names():
        raise ValidationFailed(fields={field: str(_l("Unknown timezone."))})
    ZoneInfo(name)
    return name


def clean_email(value, field: str = "email", *, required: bool = True) -> str | None:
    text = clean_text(value, field, max_length=254, required=required)
    if text is None:
        return None
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(fields={field: str(_l("Not a valid email address."))}) from exc
    return result.normalized.lower()


def clean_mobile(value, field: str = "mobile", *, required: bool = False) -> str | None:
    """An international number, stored as E.164 (+34…)."""
    text = clean_text(value, field, max_length=32, required=required)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(
            fields={
                field: str(_l("Enter the number in international format, e.g. +34 600 000 000."))
            }
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(fields={field: str(_l("Not a valid phone number."))})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_SENDER_TEXT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 .&-]{0,10}")
_SENDER_NUMBER = re.compile(r"\+?[0-9]{1,15}")


def clean_sender_name(value, path: str = "sender") -> str | None:
    """An SMS sender: up to 11 letters and digits, or a number of up to 15 digits."""
    text = clean_text(value, path, max_length=16, required=False)
    if text is None or _SENDER_NUMBER.fullmatch(text) or _SENDER_TEXT.fullmatch(text):
        return text
    raise ValidationFailed(
        fields={
            path: str(
                _l(
                    "Use up to 11 letters, digits and spaces (no accents), "
                    "or a phone number of up to 15 digits."
                )
            )
        }
    )


def clean_iban(value, field: str = "billing.iban", *, required: bool = False) -> str | None:
    """A bank account as an IBAN, stored compact and upper case (ES9121000418450200051332).

    python-stdnum checks it: the country's length and layout, the IBAN check digits, and the
    national check digits where the country has them (Spain's CCC, for one). Spaces, dashes
    and dots people type between the groups are ignored."""
    text = clean_text(value, field, max_length=64, required=required)
    if text is None:
        return None
    try:
        return stdnum_iban.validate(text)
    except StdnumInvalid as exc:
        raise ValidationFailed(
            fields={
                field: str(
                    _l("Not a valid IBAN: check the country code, the length and the digits.")
                )
            }
        ) from exc


def mask_iban(iban: str | None) -> str:
    """An IBAN as the portal shows it: the country and check digits and the last four, the
    rest hidden (ES91 •••• •••• 1332); empty when there is none."""
    if not iban:
        return ""
    compact = stdnum_iban.compact(iban)
    return f"{compact[:4]} •••• •••• {compact[-4:]}"


def read_decimal(value: Any, *, floats: bool = False) -> Decimal | None:
    """The one reading of a number a service is given: text, an int or a Decimal (a float
    only with ``floats``, read by its repr, never by its binary value) as a finite Decimal;
    None for anything else (booleans, None, garbage, NaN, infinities). Each caller then
    states its own bounds and messages; what a person types is parsed in their locale first
    (tenants.web.forms.parse_amount)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        if not floats:
            return None
        value = repr(value)
    if not isinstance(value, str | int | Decimal):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


# The most credits one movement may carry.
MAX_CREDITS = 10**9


def clean_credits(value, field: str = "credits", *, minimum: int = 1) -> int:
    """A whole number of credits from ``minimum`` (1: positive; 0 for a level that may be
    off) to MAX_CREDITS (booleans and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(fields={field: str(_l("Enter a whole number of credits."))})
    if value < minimum and minimum == 0:
        raise ValidationFailed(
            fields={
                field: str(_l("Enter a number from 0 to %(n)s.", n=format_decimal(MAX_CREDITS)))
            }
        )
    if value < minimum:
        raise ValidationFailed(fields={field: str(_l("Enter a number greater than zero."))})
    if value > MAX_CREDITS:
        raise ValidationFailed(
            fields={field: str(_l("Enter at most %(n)s credits.", n=format_decimal(MAX_CREDITS)))}
        )
    return value
