"""A reseller's price list (unit price per currency) and tax table (percent per country)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow


class PriceListEntry(db.Model):
    """What one credit (one SMS) costs in one currency, for prepaid and postpaid customers, and
    the credit limit new postpaid customers paying in it start with."""

    __tablename__ = "price_list_entries"
    __table_args__ = (UniqueConstraint("reseller_id", "currency"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("prc"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    prepaid_unit_price: Mapped[Decimal] = mapped_column(Money())
    postpaid_unit_price: Mapped[Decimal] = mapped_column(Money())
    # The credit limit a new postpaid organization paying in this currency starts with.
    default_credit_limit: Mapped[Decimal] = mapped_column(
        Money(), default=Decimal("0"), server_default="0"
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<PriceListEntry {self.currency} {self.prepaid_unit_price}>"


class TaxRate(db.Model):
    """The tax percent charged to a reseller's customers in one country (others pay 0)."""

    __tablename__ = "tax_rates"
    __table_args__ = (UniqueConstraint("reseller_id", "country"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("tax"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    country: Mapped[str] = mapped_column(String(2))
    # Money() rather than Numeric(5, 2): exact on SQLite too (scaled integer, no float).
    percent: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def __repr__(self) -> str:
        return f"<TaxRate {self.country} {self.percent}%>"
