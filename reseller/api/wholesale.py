"""API: the reseller's wholesale pool (reseller keys only)."""

from __future__ import annotations

from flask import Response

from reseller.api.core import done, endpoint
from reseller.api.schemas_wholesale import MarginQuery, MarginReport, PoolBalance
from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.wholesale.margin import clean_period, current_period, margin_report
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


def _money(value) -> str | None:
    return None if value is None else format(value, "f")


@endpoint(
    "/reseller/margin",
    "GET",
    summary="Read the margin report of a month",
    tag=TAG,
    query=MarginQuery,
    response=MarginReport,
    errors=(403, 422),
    reseller_only=True,
    refusals={"period": "a month that does not exist (13 or 00) or before 2000"},
)
def get_margin_report(actor: Actor, query: MarginQuery) -> Response:
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    reseller = scoping.get_reseller(actor, actor.reseller_id)
    period = current_period() if query.period is None else clean_period(query.period)
    report = margin_report(reseller.id, period)
    return done(
        {
            "period": report.period,
            "rows": [
                {
                    "organization_id": row.organization_id,
                    "currency": row.currency,
                    "credits": row.credits,
                    "revenue": _money(row.revenue),
                    "cost": _money(row.cost),
                    "cost_currency": row.cost_currency,
                    "margin": _money(row.margin),
                    "margin_percent": _money(row.margin_percent),
                }
                for row in report.rows
            ],
            "totals": [
                {
                    "currency": total.currency,
                    "credits": total.credits,
                    "revenue": _money(total.revenue),
                    "cost": _money(total.cost),
                    "margin": _money(total.margin),
                }
                for total in report.totals
            ],
        }
    )
