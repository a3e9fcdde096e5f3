"""The reseller's wholesale pool in the API (reseller keys only)."""

from __future__ import annotations

from pydantic import Field

from reseller.api.schemas import Currency, Money, SignedMoney
from reseller.api.spec import ApiModel


class PoolForecast(ApiModel):
    """From the last 7 UTC days of credits drawn from the pool (today included), net of
    those given back; null without any."""

    daily_usage: str = Field(
        pattern=r"^[0-9]+\.[0-9]$",
        description="Credits drawn a day: the last 7 days' draws / 7, one decimal",
        examples=["120.4"],
    )
    days_left: int = Field(ge=0, description="Whole days until the pool runs out at that rate")


class PoolBalance(ApiModel):
    """The wholesale pool: credits bought from the platform not yet with a customer. Every
    credit a customer receives, and every credit of postpaid usage, comes out of it; when it
    cannot cover them the request is refused with 402 `reseller_credits_exhausted`."""

    credits: int = Field(ge=0, description="Credits in the pool")
    low_balance_threshold: int = Field(
        ge=0,
        description="The low-pool alert: admins are emailed when the pool drops to it (0: off)",
    )
    forecast: PoolForecast | None


class MarginQuery(ApiModel):
    period: str | None = Field(
        default=None,
        max_length=20,
        pattern=r"^[0-9]{4}-[0-9]{2}$",
        description="The month, YYYY-MM (UTC); left out: the current month",
        examples=["2026-10"],
    )


class MarginRow(ApiModel):
    """One customer's month in one currency. Credits and cost go to the row of the
    customer's own currency; revenue to the row of the receipts' and invoices' currency."""

    organization_id: str
    currency: Currency = Field(description="The revenue's currency")
    credits: int = Field(
        description="Credits drawn from the pool in the month, net of those given back"
    )
    revenue: Money = Field(
        description="Subtotals (net of tax) of the receipts and invoices issued in the month"
    )
    cost: SignedMoney | None = Field(
        description="The credits' cost, first in first out from the lots, in cost_currency; "
        "a lot bought in another currency is converted at the month's rate for it, and "
        "without one the cost is null (not converted)"
    )
    cost_currency: Currency = Field(description="The lots' currency")
    margin: SignedMoney | None = Field(
        description="revenue (converted at the month's rate) - cost, in cost_currency; "
        "null when the revenue's currency, or a lot's, has no rate for the month (not "
        "converted)"
    )
    margin_percent: SignedMoney | None = Field(
        description="margin / revenue x 100, 2 decimals; null when not converted or the "
        "revenue is 0"
    )


class MarginTotal(ApiModel):
    """The rows of one revenue currency summed (cost and margin in the lots' currency;
    margin null when any of its rows is not converted, cost null when any row's is)."""

    currency: Currency
    credits: int
    revenue: Money
    cost: SignedMoney | None
    margin: SignedMoney | None


class MarginReport(ApiModel):
    """The month's margin report (SPEC §4b), per customer and currency, with totals per
    currency; amounts rounded half up to the currency's minor unit, once, at the end."""

    period: str = Field(pattern=r"^[0-9]{4}-[0-9]{2}$")
    rows: list[MarginRow]
    totals: list[MarginTotal]
