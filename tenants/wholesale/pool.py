"""The wholesale pool as the reseller's home, the platform's pages and the API read it: its
credits, alert level and forecast, and its lots.

The forecast follows the organizations' (tenants.credits.forecast), in UTC days: *daily
usage* = credits drawn in the last 7 days (today included), net of those given back, / 7,
one decimal; *days left* = pool * 7 / drawn in the window, whole days rounded down. None
(the API's null, the pages' "—") without draws in the window. It reads the 7 daily totals
kept by every draw (``wholesale_days``), never the draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select

from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.models.wholesale import WholesaleDay, WholesaleLot, WholesalePool

WINDOW_DAYS = 7
_ONE_DECIMAL = Decimal("0.1")


@dataclass(frozen=True)
class PoolForecast:
    daily_usage: Decimal  # credits a day, one decimal
    days_left: int


@dataclass(frozen=True)
class PoolSummary:
    credits: int
    low_balance_threshold: int
    forecast: PoolForecast | None

    @property
    def is_low(self) -> bool:
        return self.low_balance_threshold > 0 and self.credits <= self.low_balance_threshold


def pool_forecast(reseller_id: str, credits: int, today: date | None = None) -> PoolForecast | None:
    """The pool's forecast from its last 7 UTC days of draws; None without any."""
    today = today or utcnow().date()
    drawn = db.session.scalar(
        select(func.coalesce(func.sum(WholesaleDay.credits), 0)).where(
            WholesaleDay.reseller_id == reseller_id,
            WholesaleDay.day > today - timedelta(days=WINDOW_DAYS),
            WholesaleDay.day <= today,
        )
    )
    drawn = int(drawn or 0)
    if drawn <= 0:
        return None
    daily = (Decimal(drawn) / WINDOW_DAYS).quantize(_ONE_DECIMAL, rounding=ROUND_HALF_UP)
    return PoolForecast(daily_usage=daily, days_left=max(credits, 0) * WINDOW_DAYS // drawn)


def pool_summary(reseller_id: str) -> PoolSummary:
    """The reseller's pool now (an empty one when it never had a lot)."""
    row = db.session.execute(
        select(WholesalePool.credits, WholesalePool.low_balance_threshold).where(
            WholesalePool.reseller_id == reseller_id
        )
    ).first()
    credits, threshold = (row[0], row[1]) if row else (0, 0)
    return PoolSummary(credits, threshold, pool_forecast(reseller_id, credits))


def recent_lots(reseller_id: str, limit: int = 20) -> list[WholesaleLot]:
    """The reseller's lots, the newest first."""
    return list(
        db.session.scalars(
            select(WholesaleLot)
            .where(WholesaleLot.reseller_id == reseller_id)
            .order_by(WholesaleLot.created_at.desc(), WholesaleLot.id.desc())
            .limit(limit)
        )
    )
