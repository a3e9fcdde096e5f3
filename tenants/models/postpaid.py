"""Postpaid billing: the per-organization balance row, immutable charges, payments, runs."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import DDL, BigInteger, ForeignKey, Index, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow
from tenants.models.base import enum_column_type


class PostpaidAccount(db.Model):
    """What a postpaid organization owes, changed only by conditional UPDATEs (row lock).

    ``debt = unbilled + unbilled_tax + invoiced_unpaid - paid_ahead``: the charges not yet
    invoiced, the tax they will carry (each charge's tax at the rate of its moment, exact to
    the stored scale; the invoice rounds once per rate), and the invoices not yet paid, less
    what was paid ahead. Usage is accepted while the debt stays within the credit limit.
    ``closed_until`` is the instant the last invoiced period ended: charges before it are
    invoiced, late usage before it is refused.
    """

    __tablename__ = "postpaid_accounts"
    __table_args__ = (
        # The monthly run picks organizations with something left to invoice.
        Index("ix_postpaid_accounts_closed_period", "closed_period"),
    )

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    unbilled: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    unbilled_tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), server_default="0")
    unbilled_credits: Mapped[int] = mapped_column(BigInteger, default=0)
    invoiced_unpaid: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    # Payments received beyond the issued invoices; settles the next invoices.
    paid_ahead: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"))
    closed_period: Mapped[str] = mapped_column(String(7), default="")
    closed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def debt(self) -> Decimal:
        return self.unbilled + self.unbilled_tax + self.invoiced_unpaid - self.paid_ahead


class Charge(db.Model):
    """One postpaid usage event, priced when it happened. Never updated or deleted."""

    __tablename__ = "charges"
    __table_args__ = (
        # On PostgreSQL it also carries what an invoice line sums, so the monthly run groups
        # a batch's charges from the index alone (an index-only scan; B4).
        Index(
            "ix_charges_org_occurred",
            "organization_id",
            "occurred_at",
            postgresql_include=["unit_price", "tax_percent", "credits", "amount", "tax"],
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("chg"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    member_id: Mapped[str | None] = mapped_column(String(32))
    credits: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    # The tax rate of the organization's country when it happened, and this charge's tax at
    # it (amount * rate, at the stored scale): a country change taxes only what follows it.
    tax_percent: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), server_default="0")
    tax: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PaymentStatus(enum.StrEnum):
    RECORDED = "recorded"
    VOID = "void"  # undone: its reversing ledger entry put the debt back


class Payment(db.Model):
    """Money a reseller received from a postpaid organization; voided, never deleted."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_org_created", "organization_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("pay"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[str | None] = mapped_column(String(32))
    real_user_id: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[PaymentStatus] = mapped_column(
        enum_column_type(PaymentStatus, "payment_status"),
        default=PaymentStatus.RECORDED,
        server_default=PaymentStatus.RECORDED.value,
    )
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(String(500))
    # Who voided it, like the actor columns above.
    voided_by_user_id: Mapped[str | None] = mapped_column(String(32))
    voided_real_user_id: Mapped[str | None] = mapped_column(String(32))
    voided_api_key_id: Mapped[str | None] = mapped_column(String(32))


class BillingRunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"


class BillingRun(db.Model):
    """One run of the monthly invoices, for the platform admin's page."""

    __tablename__ = "billing_runs"
    __table_args__ = (Index("ix_billing_runs_started", "started_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("run"))
    period: Mapped[str] = mapped_column(String(7))
    status: Mapped[BillingRunStatus] = mapped_column(
        enum_column_type(BillingRunStatus, "billing_run_status"),
        default=BillingRunStatus.RUNNING,
    )
    trigger: Mapped[str] = mapped_column(String(20), default="manual")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(default=0)
    progress: Mapped[int] = mapped_column(default=0)
    invoiced: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


_PG_FUNCTION = DDL(
    """
    CREATE OR REPLACE FUNCTION charges_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'charges are immutable';
    END;
    $$ LANGUAGE plpgsql
    """
)
_PG_TRIGGER = DDL(
    "CREATE TRIGGER charges_immutable BEFORE UPDATE OR DELETE ON charges "
    "FOR EACH ROW EXECUTE FUNCTION charges_immutable()"
)
_SQLITE_NO_UPDATE = DDL(
    "CREATE TRIGGER charges_no_update BEFORE UPDATE ON charges "
    "BEGIN SELECT RAISE(ABORT, 'charges are immutable'); END"
)
_SQLITE_NO_DELETE = DDL(
    "CREATE TRIGGER charges_no_delete BEFORE DELETE ON charges "
    "BEGIN SELECT RAISE(ABORT, 'charges are immutable'); END"
)
for _ddl, _dialect in (
    (_PG_FUNCTION, "postgresql"),
    (_PG_TRIGGER, "postgresql"),
    (_SQLITE_NO_UPDATE, "sqlite"),
    (_SQLITE_NO_DELETE, "sqlite"),
):
    event.listen(Charge.__table__, "after_create", _ddl.execute_if(dialect=_dialect))
