"""The reseller's settings in the API: price list, tax table and on/off switches (reseller
keys only)."""

from __future__ import annotations

from pydantic import Field

from reseller.api.schemas import Country, Currency
from reseller.api.spec import ApiModel, decimal

UnitPrice = decimal("999999.9999", 4, examples=["0.045"])
Percent = decimal("100", 3, examples=["21", "8.875"])


class Price(ApiModel):
    currency: Currency
    prepaid_unit_price: UnitPrice
    postpaid_unit_price: UnitPrice
    default_credit_limit: decimal("99999999", 2, description="Left out: kept as it is") = None


class PriceList(ApiModel):
    """A currency listed twice is refused (422). A new postpaid organization paying in a
    currency starts with its default_credit_limit."""

    prices: list[Price] = Field(max_length=500)


class TaxRate(ApiModel):
    country: Country
    percent: Percent


class TaxRates(ApiModel):
    """A country not listed pays 0; a country listed twice is refused (422)."""

    tax_rates: list[TaxRate] = Field(max_length=500)


class ResellerSettings(ApiModel):
    campaigns_need_approval: bool = Field(
        description="Customers' campaigns wait for the reseller's approval before they run "
        "(approve or reject: `POST …/campaigns/{campaign_id}/approve`, `/reject`)"
    )


class ResellerSettingsUpdate(ApiModel):
    """Only the switches given change; an empty body is refused (422)."""

    campaigns_need_approval: bool = None
