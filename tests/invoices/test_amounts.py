"""The one way every invoice adds up (tenants.invoices.amounts): lines rounded half-up to the
minor unit, the subtotal their sum, the tax per rate on its base rounded once per rate."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.invoices.amounts import bases_of, line_amount, totals_per_rate

PRICES = st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("9.9999"), places=4)
RATES = st.sampled_from([Decimal("0"), Decimal("16"), Decimal("21"), Decimal("8.875")])
LINES = st.lists(st.tuples(st.integers(1, 100_000), PRICES, RATES), min_size=1, max_size=40)


def test_a_line_rounds_half_up_to_the_minor_unit():
    assert line_amount(1, Decimal("0.045"), "EUR") == Decimal("0.05")
    assert line_amount(1, Decimal("0.055"), "USD") == Decimal("0.06")
    assert line_amount(1, Decimal("0.0125"), "EUR") == Decimal("0.01")
    assert line_amount(3, Decimal("0.5"), "JPY") == Decimal("2")  # 1.5 → 2, no decimals
    assert line_amount(1001, Decimal("0.045"), "EUR") == Decimal("45.05")


def test_two_rates_are_two_tax_lines_each_rounded_once():
    result = totals_per_rate(
        {Decimal("21"): Decimal("5.00"), Decimal("16"): Decimal("15.00")}, "EUR"
    )
    assert [line.record() for line in result.taxes] == [
        {"percent": "16", "base": "15.00", "tax": "2.40"},
        {"percent": "21", "base": "5.00", "tax": "1.05"},
    ]
    assert (result.subtotal, result.tax, result.total) == (
        Decimal("20.00"),
        Decimal("3.45"),
        Decimal("23.45"),
    )
    assert result.main_percent == Decimal("16")  # the rate of the largest base


@settings(max_examples=200, deadline=None)
@given(LINES, st.sampled_from(["EUR", "USD", "JPY"]))
def test_the_lines_always_add_up(lines, currency):
    amounts = [(rate, line_amount(quantity, price, currency)) for quantity, price, rate in lines]
    result = totals_per_rate(bases_of(amounts), currency)
    assert result.subtotal == sum(amount for _, amount in amounts)
    assert result.subtotal == sum(line.base for line in result.taxes)
    assert result.tax == sum(line.tax for line in result.taxes)
    assert result.total == result.subtotal + result.tax
    for line in result.taxes:
        exact = line.base * line.percent / 100
        assert abs(line.tax - exact) <= Decimal("0.5") * (
            Decimal(1) if currency == "JPY" else Decimal("0.01")
        )
    assert len(result.taxes) == len({rate for rate, _ in amounts})
