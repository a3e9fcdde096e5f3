"""API: the reseller's price list and tax table (reseller keys only)."""

from __future__ import annotations

from typing import Any

from flask import Response

from reseller.api import schemas, serializers
from reseller.api.core import done, endpoint
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.resellers import pricing

TAG = "Reseller settings"


def _reseller(actor: Actor):
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    return scoping.get_reseller(actor, actor.reseller_id)


@endpoint(
    "/reseller/price-list",
    "GET",
    summary="Read the price list",
    tag=TAG,
    response=schemas.PRICE_LIST,
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
    body=schemas.PRICE_LIST,
    response=schemas.PRICE_LIST,
    errors=(403,),
    reseller_only=True,
    description="The whole list is replaced: a currency left out is removed.",
)
def put_price_list(actor: Actor, body: dict[str, Any]) -> Response:
    reseller = _reseller(actor)
    pricing.set_price_list(actor, reseller, body["prices"])
    return done(serializers.price_list(pricing.get_price_list(reseller)))


@endpoint(
    "/reseller/tax-rates",
    "GET",
    summary="Read the tax table",
    tag=TAG,
    response=schemas.TAX_RATES,
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
    body=schemas.TAX_RATES,
    response=schemas.TAX_RATES,
    errors=(403,),
    reseller_only=True,
    description="The whole table is replaced; a country not listed pays 0.",
)
def put_tax_rates(actor: Actor, body: dict[str, Any]) -> Response:
    reseller = _reseller(actor)
    pricing.set_tax_rates(actor, reseller, body["tax_rates"])
    return done(serializers.tax_rates(pricing.get_tax_rates(reseller)))
