"""Daily usage totals per organization: what the forecast reads instead of the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import Money


class UsageDay(db.Model):
    """The credits an organization used on one day of its timezone (usage, messages sent,
    less refunds), and for postpaid the money they were charged with tax. Kept by the usage
    paths in the same transaction as the ledger (tenants.credits.forecast.count_usage)."""

    __tablename__ = "usage_days"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    charged: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
