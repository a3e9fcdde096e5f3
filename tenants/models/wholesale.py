"""The reseller's wholesale pool: the credits the platform sold it, in lots, and where each
credit its customers received came from (SPEC §4b)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow


class WholesalePool(db.Model):
    """One row per reseller: its credits not yet with a customer. Changed only by a
    conditional UPDATE (never below zero) in the transaction that gives or takes back a
    customer's credits; its row lock serializes the reseller's draws and its lots' changes.
    ``credits`` is always the sum of its lots' ``remaining``."""

    __tablename__ = "wholesale_pools"
    __table_args__ = (
        CheckConstraint("credits >= 0", name="pool_not_negative"),
        CheckConstraint("low_balance_threshold >= 0", name="pool_threshold_not_negative"),
    )

    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    # The low-pool alert (reseller settings): reseller admins are emailed when the pool
    # crosses it downwards; 0: never.
    low_balance_threshold: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WholesaleLot(db.Model):
    """Credits the platform added to a reseller's pool at one unit cost. ``remaining``: what
    is still in the pool (first in, first out). An opening-balance lot stands for the
    credits the reseller's customers already had when pools began (cost 0)."""

    __tablename__ = "wholesale_lots"
    __table_args__ = (
        CheckConstraint("credits >= 0", name="lot_credits_not_negative"),
        CheckConstraint("remaining >= 0 AND remaining <= credits", name="lot_remaining_in_range"),
        CheckConstraint("unit_cost >= 0", name="lot_cost_not_negative"),
        Index("ix_wholesale_lots_reseller_created", "reseller_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("lot"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    credits: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    unit_cost: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    opening_balance: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_user_id: Mapped[str | None] = mapped_column(String(32))


class WholesaleDraw(db.Model):
    """Credits of one lot given to (positive) or taken back from (negative) one customer, in
    the ledger transaction that moved them: what the margin report costs first in, first
    out, exactly across a month's end."""

    __tablename__ = "wholesale_draws"
    __table_args__ = (
        Index("ix_wholesale_draws_reseller_created", "reseller_id", "created_at"),
        Index("ix_wholesale_draws_lot", "lot_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("drw"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    lot_id: Mapped[str] = mapped_column(ForeignKey("wholesale_lots.id"))
    credits: Mapped[int] = mapped_column(BigInteger)
    transaction_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WholesaleDay(db.Model):
    """Credits drawn from a reseller's pool on one UTC day, net of those given back: what
    the pool's forecast reads instead of the draws."""

    __tablename__ = "wholesale_days"

    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)


class MarginRate(db.Model):
    """A month's rate the reseller entered to convert its revenue in ``currency`` to its
    lots' currency (the margin report's cost currency): 1 ``currency`` = ``rate`` of it."""

    __tablename__ = "wholesale_margin_rates"
    __table_args__ = (CheckConstraint("rate > 0", name="margin_rate_positive"),)

    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Money())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
