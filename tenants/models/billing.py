"""Invoices and receipts (numbered per reseller without gaps) and credit purchases."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class InvoiceKind(enum.StrEnum):
    RECEIPT = "receipt"
    INVOICE = "invoice"


class InvoiceStatus(enum.StrEnum):
    OPEN = "open"
    PAID = "paid"
    VOID = "void"


class InvoiceItem(enum.StrEnum):
    """What an invoice line bills: a key, its text rendered in the reader's language."""

    SMS_CREDITS = "sms_credits"  # a purchase of prepaid credits
    SMS_USAGE = "sms_usage"  # a day of postpaid usage (item_date)


class PurchaseStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    DECLINED = "declined"


class InvoiceSequence(db.Model):
    """The next invoice number of a reseller, taken under a row lock: numbers never skip."""

    __tablename__ = "invoice_sequences"

    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    next_number: Mapped[int] = mapped_column(BigInteger, default=1)


class Invoice(db.Model):
    """A tax invoice / receipt (prepaid purchase) or a monthly invoice (postpaid)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("reseller_id", "sequence"),
        # One monthly invoice per organization and period, whatever runs it.
        Index(
            "uq_invoices_org_period",
            "organization_id",
            "period",
            unique=True,
            sqlite_where=text("kind = 'invoice'"),
            postgresql_where=text("kind = 'invoice'"),
        ),
        Index("ix_invoices_org_issued", "organization_id", "issued_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("inv"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    sequence: Mapped[int] = mapped_column(BigInteger)
    number: Mapped[str] = mapped_column(String(40))
    kind: Mapped[InvoiceKind] = mapped_column(enum_column_type(InvoiceKind, "invoice_kind"))
    period: Mapped[str | None] = mapped_column(String(7))
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_column_type(InvoiceStatus, "invoice_status"), default=InvoiceStatus.OPEN
    )
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money())
    tax_percent: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    # Billing details and country exactly as they were when issued.
    billing: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The seller (the reseller's legal name, address, tax number, country) when issued, and
    # the tax per rate: [{"percent", "base", "tax"}] as decimal strings. NULL on invoices
    # issued before they were kept (read with tenants.invoices.reading).
    seller: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    taxes: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    language: Mapped[str] = mapped_column(String(8), default="en")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    lines: Mapped[list[InvoiceLine]] = relationship(
        order_by="InvoiceLine.position", back_populates="invoice"
    )


class InvoiceLine(db.Model):
    __tablename__ = "invoice_lines"
    __table_args__ = (Index("ix_invoice_lines_invoice", "invoice_id", "position"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    position: Mapped[int] = mapped_column(default=0)
    # What the line bills (an InvoiceItem key) and the date it needs (a usage day): the
    # text is rendered in the reader's language. ``description``: the text of the lines
    # issued before keys were stored (NULL since).
    item: Mapped[str | None] = mapped_column(String(40))
    item_date: Mapped[date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal] = mapped_column(Money())  # full precision (0.045)
    amount: Mapped[Decimal] = mapped_column(Money())  # quantity x unit price, rounded half-up
    tax_percent: Mapped[Decimal | None] = mapped_column(Money())  # NULL: the invoice's
    occurred_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reference: Mapped[str | None] = mapped_column(String(200))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class Purchase(db.Model):
    """Credits bought for an account; applied once, when the payment succeeds."""

    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_org_created", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pur"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    account: Mapped[str] = mapped_column(String(48))
    credits: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[PurchaseStatus] = mapped_column(
        enum_column_type(PurchaseStatus, "purchase_status"), default=PurchaseStatus.PENDING
    )
    payment_method: Mapped[str] = mapped_column(String(20))
    automatic: Mapped[bool] = mapped_column(default=False)
    currency: Mapped[str] = mapped_column(String(3))
    unit_price: Mapped[Decimal] = mapped_column(Money())
    subtotal: Mapped[Decimal] = mapped_column(Money())
    tax_percent: Mapped[Decimal] = mapped_column(Money())
    tax: Mapped[Decimal] = mapped_column(Money())
    total: Mapped[Decimal] = mapped_column(Money())
    billing: Mapped[dict[str, Any]] = mapped_column(JSON)
    provider_reference: Mapped[str | None] = mapped_column(String(100))
    decline_reason: Mapped[str | None] = mapped_column(String(200))
    receipt_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"))
    created_by_user_id: Mapped[str | None] = mapped_column(String(32))
    real_user_id: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(8), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    receipt: Mapped[Invoice | None] = relationship()
