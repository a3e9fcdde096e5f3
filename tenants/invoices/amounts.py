"""The sums of every invoice and receipt, computed one way (EN 16931): each line's amount is
quantity x unit price rounded half-up to the currency's minor unit, the subtotal is the sum
of the lines, the tax is computed per rate on that rate's lines and rounded once per rate,
and the total is subtotal plus tax.

Receipts (tenants.credits.purchases), the monthly invoices and the final invoice (the
monthly batch, tenants.billing.monthly_batch) all take their totals from ``totals_per_rate``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from tenants.core.types import round_money

HUNDRED = Decimal(100)


def line_amount(quantity: int, unit_price: Decimal, currency: str) -> Decimal:
    """A line's amount: quantity x unit price (kept at full precision, €0.045), rounded
    half-up to the currency's minor unit."""
    return round_money(Decimal(quantity) * Decimal(unit_price), currency)


def percent_text(percent: Decimal) -> str:
    """A rate as written, without storage zeros or exponent: 21.0000 → "21", 8.875."""
    return format(Decimal(percent).normalize(), "f")


@dataclass(frozen=True)
class TaxLine:
    """The tax of one rate: its base (the sum of its lines' amounts) and the tax on it."""

    percent: Decimal
    base: Decimal
    tax: Decimal

    def record(self) -> dict[str, str]:
        """As stored on the invoice (JSON) and shown by the API: decimal strings."""
        return {
            "percent": percent_text(self.percent),
            "base": format(self.base, "f"),
            "tax": format(self.tax, "f"),
        }


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    taxes: tuple[TaxLine, ...]  # one per rate, the lowest rate first

    @property
    def main_percent(self) -> Decimal:
        """The rate of the largest base: the one rate of almost every invoice (the invoice's
        ``tax_percent`` column, kept for what reads a single rate)."""
        if not self.taxes:
            return Decimal(0)
        return max(self.taxes, key=lambda line: (line.base, line.percent)).percent

    def taxes_record(self) -> list[dict[str, str]]:
        return [line.record() for line in self.taxes]


def totals_per_rate(bases: Mapping[Decimal, Decimal], currency: str) -> Totals:
    """The totals of lines taxed at one rate or several: ``bases`` is ``{tax %: sum of the
    amounts (already rounded, see line_amount) of the lines at that rate}``. Each rate's tax
    is rounded once; the subtotal is the sum of the bases, so of the lines."""
    taxes = tuple(
        TaxLine(
            Decimal(percent),
            round_money(base, currency),
            round_money(round_money(base, currency) * Decimal(percent) / HUNDRED, currency),
        )
        for percent, base in sorted(bases.items())
    )
    subtotal = round_money(sum((line.base for line in taxes), Decimal(0)), currency)
    tax = round_money(sum((line.tax for line in taxes), Decimal(0)), currency)
    return Totals(subtotal, tax, subtotal + tax, taxes)


def bases_of(lines: Iterable[tuple[Decimal, Decimal]]) -> dict[Decimal, Decimal]:
    """``{tax %: base}`` of ``(tax %, rounded line amount)`` pairs."""
    bases: dict[Decimal, Decimal] = {}
    for percent, amount in lines:
        bases[percent] = bases.get(percent, Decimal(0)) + amount  # 21 == 21.0000
    return bases
