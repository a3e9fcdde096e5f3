"""API: the reseller's wholesale pool (reseller keys only)."""

from __future__ import annotations

from flask import Response

from reseller.api.core import done, endpoint
from reseller.api.schemas_wholesale import PoolBalance
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.wholesale.pool import pool_summary

TAG = "Reseller settings"


@endpoint(
    "/reseller/balance",
    "GET",
    summary="Read the wholesale pool",
    tag=TAG,
    response=PoolBalance,
    errors=(403,),
    reseller_only=True,
)
def get_pool_balance(actor: Actor) -> Response:
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    reseller = scoping.get_reseller(actor, actor.reseller_id)
    pool = pool_summary(reseller.id)
    forecast = pool.forecast
    return done(
        {
            "credits": pool.credits,
            "low_balance_threshold": pool.low_balance_threshold,
            "forecast": None
            if forecast is None
            else {"daily_usage": str(forecast.daily_usage), "days_left": forecast.days_left},
        }
    )
