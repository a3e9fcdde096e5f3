"""The reseller's wholesale pool in the API (reseller keys only)."""

from __future__ import annotations

from pydantic import Field

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
