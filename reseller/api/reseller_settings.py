"""API: the reseller's price list, tax table and switches (reseller keys only)."""

from __future__ import annotations

from flask import Response

import reseller.api.serializers as serializers
from reseller.api.core import done, endpoint
from reseller.api.schemas_reseller import (
    PriceList,
    ResellerSettings,
    ResellerSettingsUpdate,
    TaxRates,
)
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.core.errors import ValidationFailed
from tenants.models import Reseller
from tenants.resellers import pricing
from tenants.resellers.operations import set_reseller_switch

TAG = "Reseller settings"


def _reseller(actor: Actor):
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    return scoping.get_reseller(actor, actor.reseller_id)


@endpoint(
    "/reseller/price-list",
    "GET",
    summary="Read the price list",
    tag=TAG,
    response=PriceList,
    errors=(403,),
    reseller_only=True,
)
def get_price_list(actor: Actor) -> Response:
    reseller = _reseller(actor)
    return done(serializers.price_list(pricing.get_price_list(reseller)))


@endpoint(
    "/reseller/price-list",
    "PUT",
    summary="Replace the price list",
    tag=TAG,
    body=PriceList,
    response=PriceList,
    errors=(403, 409),
    reseller_only=True,
    refusals={
        "prices[].currency": "listed twice",
        "prices[].default_credit_limit": "more decimals than its currency has",
    },
    description="The whole list is replaced: a currency left out is removed. A row without "
    "`default_credit_limit` keeps the one it has (0 for a new currency). A currency "
    "organizations pay in cannot be left out: 409 `currency_in_use`, whose message names "
    "them, and nothing changes.",
)
def put_price_list(actor: Actor, body: PriceList) -> Response:
    reseller = _reseller(actor)
    pricing.set_price_list(actor, reseller, body.model_dump()["prices"])
    return done(serializers.price_list(pricing.get_price_list(reseller)))


@endpoint(
    "/reseller/tax-rates",
    "GET",
    summary="Read the tax table",
    tag=TAG,
    response=TaxRates,
    errors=(403,),
    reseller_only=True,
)
def get_tax_rates(actor: Actor) -> Response:
    reseller = _reseller(actor)
    return done(serializers.tax_rates(pricing.get_tax_rates(reseller)))


@endpoint(
    "/reseller/tax-rates",
    "PUT",
    summary="Replace the tax table",
    tag=TAG,
    body=TaxRates,
    response=TaxRates,
    errors=(403,),
    reseller_only=True,
    refusals={"tax_rates[].country": "listed twice"},
    description="The whole table is replaced; a country not listed pays 0.",
)
def put_tax_rates(actor: Actor, body: TaxRates) -> Response:
    reseller = _reseller(actor)
    pricing.set_tax_rates(actor, reseller, body.model_dump()["tax_rates"])
    return done(serializers.tax_rates(pricing.get_tax_rates(reseller)))


# The switches the API sets, each through the one audited verb (set_reseller_switch).
SWITCHES = ("campaigns_need_approval",)


def _settings(reseller: Reseller) -> dict[str, bool]:
    return {name: bool(getattr(reseller, name)) for name in SWITCHES}


@endpoint(
    "/reseller/settings",
    "GET",
    summary="Read the reseller's switches",
    tag=TAG,
    response=ResellerSettings,
    errors=(403,),
    reseller_only=True,
)
def get_settings(actor: Actor) -> Response:
    return done(_settings(_reseller(actor)))


@endpoint(
    "/reseller/settings",
    "PATCH",
    summary="Change the reseller's switches",
    tag=TAG,
    body=ResellerSettingsUpdate,
    response=ResellerSettings,
    errors=(403,),
    reseller_only=True,
    description="Only the switches given change; each change is audited (a settings change "
    "of the reseller). `campaigns_need_approval` applies to campaigns scheduled or changed "
    "from then on: those already scheduled or pending stay as they are. An empty body is "
    "refused (422).",
)
def patch_settings(actor: Actor, body: ResellerSettingsUpdate) -> Response:
    reseller = _reseller(actor)
    given = {name: getattr(body, name) for name in body.model_fields_set}
    if not given:
        raise ValidationFailed()  # a change names what it changes (an empty body is a slip)
    for name, enabled in given.items():
        set_reseller_switch(actor, reseller, name, enabled)
    return done(_settings(reseller))
