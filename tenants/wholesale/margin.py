"""The reseller's margin report (SPEC §4b): per month, customer and currency, the credits
sold, the revenue net of tax, what they cost from the wholesale pool, the margin and the
margin %; totals per currency.

A month is a calendar month in UTC (resellers have no timezone of their own; the pool's
days are UTC days too).

- *credits*: what the customer drew from the pool in the month, net of what it gave back
  (``wholesale_draws``, one row per lot and ledger transaction).
- *cost*: each draw's credits x its lot's unit cost — first in, first out as recorded when
  the credits moved, so a month's end splits a lot exactly; credits given back reduce the
  cost at the lot they went back to. In the lots' currency (``cost_currency``: the
  currency of the reseller's newest lot bought from the platform); a lot bought in another
  currency is converted at the month's rate for that currency, else the cost is not known
  (None, and the row is not converted) rather than a sum of two currencies.
- *revenue*: the subtotals (net of tax) of the receipts (prepaid purchases, top-ups) and the
  postpaid invoices issued to the customer in the month, void ones left out, in the
  document's currency: one row per customer and currency. The credits and their cost go
  to the row of the customer's own currency.
- *margin* = revenue - cost, in the cost currency: revenue in another currency is converted
  at the month's rate the reseller entered (``wholesale_margin_rates``), else the row is not
  converted (margin and margin % None). *margin %* = margin / revenue x 100, None when the
  revenue is 0.

Everything is summed exactly and rounded once, at the end: money half up to the currency's
minor unit, margin % to 2 decimals.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from tenants.core.errors import ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import round_money, utcnow
from tenants.models import Invoice, InvoiceStatus, Organization
from tenants.models.wholesale import MarginRate, WholesaleDraw, WholesaleLot

_PERIOD = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")
_PERCENT = Decimal("0.01")
DEFAULT_COST_CURRENCY = "EUR"


def clean_period(value, field_name: str = "period") -> str:
    """A month ``YYYY-MM`` (2000 to 9999); ValidationFailed on ``field_name`` otherwise."""
    text = value if isinstance(value, str) else ""
    found = _PERIOD.fullmatch(text.strip())
    if found is None or int(found.group(1)) < 2000:
        raise ValidationFailed(
            fields={field_name: str(_l("Give a month as YYYY-MM, e.g. 2026-10."))}
        )
    return found.group(0)


def current_period() -> str:
    return utcnow().astimezone(UTC).strftime("%Y-%m")


def month_bounds(period: str) -> tuple[datetime, datetime]:
    """The UTC instants the month starts and ends at (end excluded)."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


@dataclass(frozen=True)
class MarginRow:
    organization_id: str
    organization_name: str
    currency: str  # the revenue's
    credits: int
    revenue: Decimal  # in ``currency``
    cost: Decimal | None  # in ``cost_currency``; None: a lot's currency has no rate
    cost_currency: str
    rate: Decimal | None  # the month's rate used (None: same currency, or none needed)
    converted: bool
    margin: Decimal | None  # in ``cost_currency``; None when not converted
    margin_percent: Decimal | None


@dataclass(frozen=True)
class MarginTotal:
    currency: str
    credits: int
    revenue: Decimal
    cost: Decimal | None
    cost_currency: str
    converted: bool
    margin: Decimal | None


@dataclass(frozen=True)
class MarginReport:
    period: str
    cost_currency: str
    rows: list[MarginRow]
    totals: list[MarginTotal]
    rates: dict[str, Decimal]  # the month's rates, by currency
    # Those that need a rate: the revenue's and the lots' currencies other than the cost
    # currency, and those with a rate already.
    currencies: list[str] = field(default_factory=list)

    @property
    def not_converted(self) -> bool:
        return any(not row.converted for row in self.rows)


@dataclass
class _Sums:
    credits: int = 0
    revenue: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    cost_unknown: bool = False  # cost in a lot currency without a rate


def cost_currency(reseller_id: str) -> str:
    """The currency of the reseller's lots: its newest bought lot's (an opening-balance lot's
    when it has no other, the default without any)."""
    found = db.session.scalar(
        select(WholesaleLot.currency)
        .where(WholesaleLot.reseller_id == reseller_id)
        .order_by(
            WholesaleLot.opening_balance, WholesaleLot.created_at.desc(), WholesaleLot.id.desc()
        )
        .limit(1)
    )
    return found or DEFAULT_COST_CURRENCY


def margin_rates(reseller_id: str, period: str) -> dict[str, Decimal]:
    """The month's rates the reseller entered, by currency."""
    rows = db.session.execute(
        select(MarginRate.currency, MarginRate.rate).where(
            MarginRate.reseller_id == reseller_id, MarginRate.period == period
        )
    ).all()
    return dict(rows)


def _draws(reseller_id: str, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
    """(organization, lot, net credits) of the month's draws."""
    rows = db.session.execute(
        select(
            WholesaleDraw.organization_id,
            WholesaleDraw.lot_id,
            func.sum(WholesaleDraw.credits),
        )
        .where(
            WholesaleDraw.reseller_id == reseller_id,
            WholesaleDraw.created_at >= start,
            WholesaleDraw.created_at < end,
        )
        .group_by(WholesaleDraw.organization_id, WholesaleDraw.lot_id)
    ).all()
    return [(org, lot, int(credits or 0)) for org, lot, credits in rows]


def _revenue(reseller_id: str, start: datetime, end: datetime) -> list[tuple[str, str, Decimal]]:
    """(organization, currency, subtotal) of the receipts and invoices issued in the month."""
    rows = db.session.execute(
        select(Invoice.organization_id, Invoice.currency, func.sum(Invoice.subtotal))
        .where(
            Invoice.reseller_id == reseller_id,
            Invoice.issued_at >= start,
            Invoice.issued_at < end,
            Invoice.status != InvoiceStatus.VOID,
        )
        .group_by(Invoice.organization_id, Invoice.currency)
    ).all()
    return [(org, currency, Decimal(total or 0)) for org, currency, total in rows]


def _lots(lot_ids: set[str]) -> dict[str, tuple[Decimal, str]]:
    if not lot_ids:
        return {}
    rows = db.session.execute(
        select(WholesaleLot.id, WholesaleLot.unit_cost, WholesaleLot.currency).where(
            WholesaleLot.id.in_(sorted(lot_ids))
        )
    ).all()
    return {lot_id: (cost, currency) for lot_id, cost, currency in rows}


def _organizations(ids: set[str]) -> dict[str, tuple[str, str]]:
    if not ids:
        return {}
    rows = db.session.execute(
        select(Organization.id, Organization.name, Organization.currency).where(
            Organization.id.in_(sorted(ids))
        )
    ).all()
    return {org_id: (name, currency) for org_id, name, currency in rows}


def _gather(reseller_id: str, period: str, base: str, rates: dict[str, Decimal]):
    """The month's sums per (customer, currency), and the lots' currencies other than
    ``base`` its credits came from."""
    start, end = month_bounds(period)
    draws = _draws(reseller_id, start, end)
    revenue = _revenue(reseller_id, start, end)
    organizations = _organizations({org for org, _, _ in draws} | {org for org, _, _ in revenue})
    lots = _lots({lot for _, lot, _ in draws})
    sums: dict[tuple[str, str], _Sums] = defaultdict(_Sums)
    lot_currencies: set[str] = set()
    for org, lot_id, credits in draws:
        unit_cost, lot_currency = lots[lot_id]
        row = sums[(org, organizations[org][1])]
        row.credits += credits
        cost = credits * unit_cost
        if lot_currency != base and cost:
            lot_currencies.add(lot_currency)
            if lot_currency in rates:
                cost *= rates[lot_currency]
            else:
                row.cost_unknown = True
        row.cost += cost
    for org, currency, subtotal in revenue:
        sums[(org, currency)].revenue += subtotal
    return organizations, sums, lot_currencies


def _row(key, sums: _Sums, name: str, base: str, rates: dict[str, Decimal]) -> tuple:
    """The row, and its exact (unrounded) revenue in the cost currency and margin."""
    org, currency = key
    rate = None
    if currency == base or not sums.revenue:
        revenue_in_base = sums.revenue
    elif currency in rates:
        rate = rates[currency]
        revenue_in_base = sums.revenue * rate
    else:
        revenue_in_base = None
    converted = revenue_in_base is not None and not sums.cost_unknown
    margin = revenue_in_base - sums.cost if converted else None
    percent = None
    if margin is not None and revenue_in_base:
        percent = (margin / revenue_in_base * 100).quantize(_PERCENT, rounding=ROUND_HALF_UP)
    row = MarginRow(
        organization_id=org,
        organization_name=name,
        currency=currency,
        credits=sums.credits,
        revenue=round_money(sums.revenue, currency),
        cost=None if sums.cost_unknown else round_money(sums.cost, base),
        cost_currency=base,
        rate=rate,
        converted=converted,
        margin=None if margin is None else round_money(margin, base),
        margin_percent=percent,
    )
    return row, margin


def margin_report(reseller_id: str, period: str) -> MarginReport:
    """The reseller's margin report of ``period`` (a ``YYYY-MM`` checked by clean_period)."""
    base = cost_currency(reseller_id)
    rates = margin_rates(reseller_id, period)
    organizations, sums, lot_currencies = _gather(reseller_id, period, base, rates)
    rows: list[MarginRow] = []
    totals: dict[str, dict] = {}
    for key in sorted(sums, key=lambda k: (organizations[k[0]][0].casefold(), k[0], k[1])):
        row, margin = _row(key, sums[key], organizations[key[0]][0], base, rates)
        rows.append(row)
        total = totals.setdefault(
            row.currency,
            {"credits": 0, "revenue": Decimal(0), "cost": Decimal(0), "margin": [], "known": []},
        )
        total["credits"] += sums[key].credits
        total["revenue"] += sums[key].revenue
        total["cost"] += sums[key].cost
        total["margin"].append(margin)
        total["known"].append(not sums[key].cost_unknown)
    return MarginReport(
        period=period,
        cost_currency=base,
        rows=rows,
        totals=[_total(currency, values, base) for currency, values in sorted(totals.items())],
        rates=rates,
        currencies=sorted(
            {row.currency for row in rows if row.currency != base} | lot_currencies | set(rates)
        ),
    )


def _total(currency: str, values: dict, base: str) -> MarginTotal:
    converted = all(margin is not None for margin in values["margin"])
    margin = sum(values["margin"], Decimal(0)) if converted else None
    return MarginTotal(
        currency=currency,
        credits=values["credits"],
        revenue=round_money(values["revenue"], currency),
        cost=round_money(values["cost"], base) if all(values["known"]) else None,
        cost_currency=base,
        converted=converted,
        margin=None if margin is None else round_money(margin, base),
    )


def chart_bars(report: MarginReport) -> list[dict]:
    """The page's bar chart of margin per customer (converted rows, in the cost currency):
    each bar's width as a percent of the largest margin, negative ones drawn apart."""
    margins: dict[str, Decimal] = defaultdict(Decimal)
    names: dict[str, str] = {}
    for row in report.rows:
        if row.margin is not None:
            margins[row.organization_id] += row.margin
            names[row.organization_id] = row.organization_name
    largest = max((abs(value) for value in margins.values()), default=Decimal(0))
    bars = []
    for org, value in margins.items():
        width = (abs(value) / largest * 100) if largest else Decimal(0)
        bars.append(
            {
                "organization_id": org,
                "name": names[org],
                "margin": value,
                "negative": value < 0,
                "width": width.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
            }
        )
    return bars
