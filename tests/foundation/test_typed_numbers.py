"""The one reading of numbers people type (tenants.web.forms): money with parse_amount, credits
with whole_number, both in the reader's language and never guessed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_babel import force_locale

from tenants.core.errors import ValidationFailed
from tenants.web.forms import parse_amount, whole_number


@pytest.fixture
def in_language(app):
    def _run(language, function, *args, **kwargs):
        with app.test_request_context(), force_locale(language):
            return function(*args, **kwargs)

    return _run


@pytest.mark.parametrize(
    ("language", "typed", "amount"),
    [
        ("en", "1,000.50", Decimal("1000.50")),
        ("es", "1.000,50", Decimal("1000.50")),
        ("en", "1,000", Decimal("1000")),
        ("es", "1.000", Decimal("1000")),
        ("en", "1000.5", Decimal("1000.5")),
        ("es", "1000,5", Decimal("1000.5")),
        ("en", "1,234,567.89", Decimal("1234567.89")),
        ("es", "1.234.567,89", Decimal("1234567.89")),
        ("en", " 24.20 ", Decimal("24.20")),
        ("es", "0,045", Decimal("0.045")),
        ("en", "", Decimal("0")),
        ("en", "-5", Decimal("-5")),  # read; the service says it must be more than zero
    ],
)
def test_amounts_are_read_as_the_reader_writes_them(in_language, language, typed, amount):
    assert in_language(language, parse_amount, typed) == amount


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("en", "1,5"),
        ("en", "0,5"),
        ("en", "1,00"),
        ("en", "1,0000"),
        ("en", "1 000"),
        ("en", "1e3"),
        ("en", "NaN"),
        ("en", "Infinity"),
        ("en", "12 EUR"),
        ("en", "€12"),
        ("es", "12.50"),
        ("es", "1000.000"),
        ("es", "1.000.50"),
        ("es", ",5"),
    ],
)
def test_malformed_or_ambiguous_amounts_are_refused_with_how_to_write_them(
    in_language, language, typed
):
    with pytest.raises(ValidationFailed) as refused:
        in_language(language, parse_amount, typed, "credit_limit")
    example = "1,234.56" if language == "en" else "1.234,56"
    assert example in refused.value.fields["credit_limit"]


@pytest.mark.parametrize(("language", "typed"), [("en", "1.000"), ("es", "1,000"), ("en", "5.001")])
def test_more_decimals_than_the_currency_has_are_refused_even_zeros(in_language, language, typed):
    """An English "1.000" may be a thousand written the Spanish way: with two places allowed
    it is refused, not read as 1."""
    with pytest.raises(ValidationFailed) as refused:
        in_language(language, parse_amount, typed, "amount", 2)
    assert refused.value.fields["amount"] in (
        "Use at most 2 decimals.",
        "Usa como máximo 2 decimales.",
    )
    assert in_language(language, parse_amount, typed) == Decimal(typed.replace(",", "."))


@pytest.mark.parametrize(
    ("language", "typed", "credits"),
    [
        ("en", "1000", 1000),
        ("en", "1,000", 1000),
        ("es", "1.000", 1000),
        ("en", "1,000,000", 1_000_000),
        ("es", "1.000.000", 1_000_000),
        ("en", "1 000", 1000),
        ("es", "1 000", 1000),
        ("en", "", 0),
    ],
)
def test_credits_are_read_as_the_reader_writes_them(in_language, language, typed, credits):
    assert in_language(language, whole_number, typed) == credits


@pytest.mark.parametrize(
    ("language", "typed"),
    [
        ("en", "1.000"),
        ("es", "1,000"),
        ("en", "1.5"),
        ("en", "10.00"),
        ("es", "10,00"),
        ("en", "1e3"),
    ],
)
def test_credits_that_are_not_whole_in_the_readers_language_go_to_the_service_as_typed(
    in_language, language, typed
):
    """The service refuses text ("Enter a whole number of credits."): an English "1.000" is
    not taken for a thousand, a Spanish "1,000" not for one."""
    assert in_language(language, whole_number, typed) == typed
