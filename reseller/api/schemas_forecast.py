"""The organization's forecast and its alert setting, as the API reads and writes them."""

from __future__ import annotations

from pydantic import Field

from reseller.api.spec import ApiModel, integer
from tenants.credits.forecast import ALERT_DAYS_MAX

AlertDays = (
    integer(
        1,
        ALERT_DAYS_MAX,
        description="Warn me this many days before I run out (email and SMS, once per "
        "crossing); null: off",
    )
    | None
)


class Forecast(ApiModel):
    """From the last 7 days of usage (today included); null without usage in them."""

    daily_usage: str = Field(
        pattern=r"^[0-9]+\.[0-9]$",
        description="Credits used a day: the last 7 days' usage / 7, one decimal",
        examples=["120.4"],
    )
    days_left: int | None = Field(
        ge=0,
        description="Whole days until the available credits (held less reserved for "
        "scheduled campaign runs) run out (prepaid) or the debt reaches the credit limit "
        "(postpaid), at that rate; null when it cannot be told",
    )
