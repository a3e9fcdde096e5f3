"""Invoices and receipts (numbered per reseller without gaps) and credit purchases."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    String,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.core.extensions import db
from tenants.core.types import MONEY_SCALE, Money, UTCDateTime, new_id, utcnow
from tenants.models.base import created_with, enum_column_type


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


@dataclass(frozen=True)
class InvoiceLine:
    """One line of an issued invoice: an element of its invoice's ``lines`` (JSON), never a
    row of its own. What it bills is a key (``item``, an InvoiceItem) and the date it needs
    (a usage day): the text is rendered in the reader's language. ``description``: the text
    of the lines issued before keys were stored."""

    quantity: int
    unit_price: Decimal  # full precision (0.045)
    amount: Decimal  # quantity x unit price, rounded half-up to the currency
    item: str | None = None
    item_date: date | None = None
    tax_percent: Decimal | None = None  # None: the invoice's (lines issued before rates)
    description: str | None = None
    occurred_at: datetime | None = None
    reference: str | None = None

    def record(self) -> dict[str, Any]:
        """As stored: decimals as strings at the money scale (``"0.0450"``), dates in ISO
        form, UTC instants; no key for an empty field. The monthly run builds the same
        records in SQL (tenants.billing.batch_tables)."""
        record: dict[str, Any] = {
            "quantity": int(self.quantity),
            "unit_price": _money_text(self.unit_price),
            "amount": _money_text(self.amount),
        }
        optional = {
            "item": str(self.item) if self.item is not None else None,
            "item_date": self.item_date.isoformat() if self.item_date else None,
            "tax_percent": _money_text(self.tax_percent),
            "description": self.description,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat()
            if self.occurred_at
            else None,
            "reference": self.reference,
        }
        record.update((key, value) for key, value in optional.items() if value is not None)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> InvoiceLine:
        occurred = record.get("occurred_at")
        day = record.get("item_date")
        percent = record.get("tax_percent")
        return cls(
            quantity=int(record["quantity"]),
            unit_price=Decimal(record["unit_price"]).quantize(MONEY_SCALE),
            amount=Decimal(record["amount"]).quantize(MONEY_SCALE),
            item=record.get("item"),
            item_date=date.fromisoformat(day) if day else None,
            tax_percent=Decimal(percent).quantize(MONEY_SCALE) if percent is not None else None,
            description=record.get("description"),
            occurred_at=datetime.fromisoformat(occurred).astimezone(UTC) if occurred else None,
            reference=record.get("reference"),
        )


def _money_text(value: Decimal | None) -> str | None:
    """A decimal as the money columns keep it: four places, as text."""
    if value is None:
        return None
    return format(Decimal(value).quantize(MONEY_SCALE, rounding=ROUND_HALF_UP), "f")


class InvoiceLines(TypeDecorator):
    """An invoice's lines: a JSON array of InvoiceLine records (JSONB on PostgreSQL), read
    as a tuple of InvoiceLine."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return [line.record() if isinstance(line, InvoiceLine) else line for line in value]

    def process_result_value(self, value, dialect):
        if value is None:
            return ()
        return tuple(InvoiceLine.from_record(record) for record in value)


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

    # The lines, in order: part of the issued document, written in the same row as the
    # invoice and never changed (the database refuses an UPDATE of them, and an invoice
    # whose lines do not sum to its subtotal: INVOICE_LINES_PG / _SQLITE below). Loaded when
    # first read (deferred).
    lines: Mapped[tuple[InvoiceLine, ...]] = mapped_column(
        InvoiceLines(), deferred=True, default=tuple
    )


# Integrity of the lines in the database itself: an invoice's lines sum to its subtotal
# (PostgreSQL: a CHECK; SQLite: a trigger, amounts compared in its scaled integers), and
# neither the lines nor the subtotal of an issued invoice ever change. The same statements
# are in the migration that moved the lines here (revision 9b2e4f7a1c35).
INVOICE_LINES_PG = (
    """
    CREATE OR REPLACE FUNCTION invoice_lines_amount(lines jsonb) RETURNS numeric
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT coalesce(sum((line ->> 'amount')::numeric), 0)
        FROM jsonb_array_elements(lines) AS line
    $$
    """,
    "ALTER TABLE invoices ADD CONSTRAINT ck_invoices_lines_sum_to_subtotal "
    "CHECK (invoice_lines_amount(lines) = subtotal)",
    """
    CREATE OR REPLACE FUNCTION invoice_lines_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'an issued invoice''s lines and subtotal never change';
    END;
    $$ LANGUAGE plpgsql
    """,
    "CREATE TRIGGER invoices_lines_immutable BEFORE UPDATE OF lines, subtotal ON invoices "
    "FOR EACH ROW WHEN (OLD.lines IS DISTINCT FROM NEW.lines "
    "OR OLD.subtotal IS DISTINCT FROM NEW.subtotal) "
    "EXECUTE FUNCTION invoice_lines_immutable()",
)
INVOICE_LINES_SQLITE = (
    """
    CREATE TRIGGER invoices_lines_sum BEFORE INSERT ON invoices
    WHEN (SELECT coalesce(sum(CAST(round(CAST(json_extract(line.value, '$.amount') AS REAL)
                                         * 10000) AS INTEGER)), 0)
          FROM json_each(NEW.lines) AS line) IS NOT NEW.subtotal
    BEGIN SELECT RAISE(ABORT, 'invoice lines must sum to the subtotal'); END
    """,
    """
    CREATE TRIGGER invoices_lines_immutable BEFORE UPDATE OF lines, subtotal ON invoices
    WHEN OLD.lines IS NOT NEW.lines OR OLD.subtotal IS NOT NEW.subtotal
    BEGIN SELECT RAISE(ABORT, 'an issued invoice''s lines and subtotal never change'); END
    """,
)
created_with(Invoice.__table__, {"postgresql": INVOICE_LINES_PG, "sqlite": INVOICE_LINES_SQLITE})


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
