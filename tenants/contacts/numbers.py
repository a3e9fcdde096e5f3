"""Contacts' mobiles: read as people write them (national numbers in the organization's
country, or international), stored in E.164; and the keys of why a row was refused."""

from __future__ import annotations

import enum

import phonenumbers
from flask_babel import lazy_gettext as _l

from tenants.core.errors import ValidationFailed
from tenants.core.validation import text_problem

NAME_MAX_LENGTH = 200
MOBILE_MAX_CHARS = 32


class Rejection(enum.StrEnum):
    """Why an imported row was refused: stored as the key, read in the reader's language."""

    MOBILE_MISSING = "mobile_missing"
    MOBILE_INVALID = "mobile_invalid"
    NAME_TOO_LONG = "name_too_long"
    NAME_INVALID = "name_invalid"
    UNREADABLE = "unreadable"


REJECTION_LABELS = {
    Rejection.MOBILE_MISSING: _l("No mobile number."),
    Rejection.MOBILE_INVALID: _l("Not a valid mobile number."),
    Rejection.NAME_TOO_LONG: _l("The name is longer than %(n)d characters.", n=NAME_MAX_LENGTH),
    Rejection.NAME_INVALID: _l("The name contains characters that are not allowed."),
    Rejection.UNREADABLE: _l("The row could not be read as CSV."),
}


def rejection_label(key: str) -> str:
    try:
        return str(REJECTION_LABELS[Rejection(key)])
    except ValueError:
        return key


def e164(text: str, region: str | None) -> str | None:
    """The number in E.164, or None when it is no valid number (national numbers are read
    in ``region``, the organization's country)."""
    text = text.strip()
    if not text or len(text) > MOBILE_MAX_CHARS:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_contact_mobile(value, region: str | None, field: str = "mobile") -> str:
    """A required mobile for a form or the API: E.164, or a field error saying how to write it."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed(fields={field: str(_l("This field is required."))})
    number = e164(value, region)
    if number is None:
        raise ValidationFailed(
            fields={
                field: str(
                    _l(
                        "Not a valid mobile number: write it in international format "
                        "(+34 600 000 000) or as a number of the organization's country."
                    )
                )
            }
        )
    return number


def name_problem(name: str) -> Rejection | None:
    """Why a contact's (stripped, optional) name cannot be stored, or None."""
    if len(name) > NAME_MAX_LENGTH:
        return Rejection.NAME_TOO_LONG
    if text_problem(name) is not None:
        return Rejection.NAME_INVALID
    return None
