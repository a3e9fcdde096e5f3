"""The credit ledger: accounts with locked balances, and append-only double-entry postings."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import Money, UTCDateTime, new_id, utcnow
from tenants.models.base import created_with, enum_column_type


class AccountKind(enum.StrEnum):
    SYSTEM = "system"  # the organization's system credit pool
    MEMBER = "member"  # a member's individual credits
    # Counter-accounts, one per organization, so every transaction balances to zero.
    # Their balances are never stored (derived from postings): no hot row to lock.
    PURCHASES = "purchases"
    USAGE = "usage"
    WITHDRAWALS = "withdrawals"
    ADJUSTMENTS = "adjustments"
    INVOICED = "invoiced"  # postpaid usage billed by a monthly invoice


HOLDING_KINDS = (AccountKind.SYSTEM, AccountKind.MEMBER)

# The columns of a ledger entry in the order the bulk writers (tenants.credits.ledger_one,
# ledger_many) give them.
ENTRY_COLUMNS = (
    "id",
    "transaction_id",
    "reseller_id",
    "organization_id",
    "account_id",
    "account_kind",
    "member_id",
    "type",
    "credits",
    "balance_after",
    "amount",
    "currency",
    "reference",
    "occurred_at",
    "created_at",
    "actor_user_id",
    "real_user_id",
    "api_key_id",
)


@dataclass(frozen=True)
class AccountRef:
    """``system`` or ``member:<id>`` — how people and the API name a holding account."""

    kind: AccountKind
    member_id: str = ""

    @property
    def label(self) -> str:
        return "system" if self.kind == AccountKind.SYSTEM else f"member:{self.member_id}"

    @classmethod
    def parse(cls, value) -> AccountRef | None:
        """The account ``value`` names (``system``, nothing for the system pool, or
        ``member:<id>``), not checked against any organization; None for anything else."""
        if value in (None, "", "system"):
            return SYSTEM_ACCOUNT
        if isinstance(value, str) and value.startswith("member:"):
            return cls(AccountKind.MEMBER, value.split(":", 1)[1])
        return None


SYSTEM_ACCOUNT = AccountRef(AccountKind.SYSTEM)
USAGE_ACCOUNT = AccountRef(AccountKind.USAGE)  # where usage goes: one object, not one a use


class EntryType(enum.StrEnum):
    PURCHASE = "purchase"
    AUTO_TOP_UP = "auto_top_up"
    TRANSFER_IN = "transfer_in"
    TRANSFER_OUT = "transfer_out"
    USAGE = "usage"
    WITHDRAWAL = "withdrawal"
    ADJUSTMENT = "adjustment"
    PAYMENT = "payment"
    PAYMENT_VOID = "payment_void"  # a payment undone: its amount owed again
    INVOICE = "invoice"
    MESSAGE = "message"  # SMS sent from the portal or the API (tenants.messaging)
    REFUND = "refund"  # a failed message's credits given back


# The entries that use credits: usage reported by the sending platform, messages sent, and
# the refunds of failed messages (which count negative: they post the other way round).
USED_TYPES = (EntryType.USAGE, EntryType.MESSAGE, EntryType.REFUND)


class CreditAccount(db.Model):
    __tablename__ = "credit_accounts"
    __table_args__ = (
        UniqueConstraint("organization_id", "kind", "member_id", name="uq_credit_accounts_owner"),
        # The last guard: whatever the code does, a holding account never goes negative.
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        # Credits reserved for scheduled campaign runs are part of the balance, never more.
        CheckConstraint("reserved >= 0 AND reserved <= balance", name="reserved_within_balance"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("acc"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[AccountKind] = mapped_column(enum_column_type(AccountKind, "account_kind"))
    # Empty string for organization-level accounts, so the unique constraint holds (NULLs
    # would be distinct) and lazy creation can use ON CONFLICT DO NOTHING.
    member_id: Mapped[str] = mapped_column(String(32), default="")
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    # Held for scheduled campaign runs (tenants.credits.reservations): a debit may take the
    # balance down to it, not below; available = balance - reserved.
    reserved: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def label(self) -> str:
        return AccountRef(self.kind, self.member_id).label


# A holding account's posting (a movement); counter-account postings have no balance after.
MOVEMENT = "balance_after IS NOT NULL"


class LedgerEntry(db.Model):
    """One posting. Never updated or deleted: the database refuses both (triggers below)."""

    __tablename__ = "ledger_entries"
    # No index on account_id nor on transaction_id: nothing reads postings by either (an
    # account's movements are its organization's, by kind and member; a transaction's are
    # written together), accounts are never deleted nor re-keyed (the only reads a foreign
    # key would make), and each index was one more entry for every posting a batch writes
    # under its accounts' locks (migration b5d7f9a1c3e6, bench/README.md, B6).
    __table_args__ = (
        # Movements are listed and filtered by when they happened (tenants.credits.movements),
        # keyset on (occurred_at, id): an organization's, and a reseller's across customers.
        # Movements are the holding accounts' postings (balance_after set): every reader asks
        # for them (tenants.access.scoping.visible_accounts, the dashboards, the chart), and
        # the counter-account half of the postings is in neither index: half the entries
        # every posting adds (migration d9f1b3c5e7a2, bench/README.md, B6).
        Index(
            "ix_ledger_entries_org_occurred_id",
            "organization_id",
            "occurred_at",
            "id",
            postgresql_where=text(MOVEMENT),
            sqlite_where=text(MOVEMENT),
        ),
        Index(
            "ix_ledger_entries_reseller_occurred",
            "reseller_id",
            "occurred_at",
            "id",
            postgresql_where=text(MOVEMENT),
            sqlite_where=text(MOVEMENT),
        ),
        # No foreign key: the account an entry names, with its organization and reseller,
        # is checked once per statement (ACCOUNTS_KNOWN below), and accounts are never
        # deleted nor re-keyed (ACCOUNTS_KEPT).
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("ent"))
    transaction_id: Mapped[str] = mapped_column(String(32))
    reseller_id: Mapped[str] = mapped_column(String(32))
    organization_id: Mapped[str] = mapped_column(String(32))
    account_id: Mapped[str] = mapped_column(String(32))
    account_kind: Mapped[AccountKind] = mapped_column(
        enum_column_type(AccountKind, "entry_account_kind")
    )
    member_id: Mapped[str] = mapped_column(String(32), default="")
    type: Mapped[EntryType] = mapped_column(enum_column_type(EntryType, "entry_type"))
    credits: Mapped[int] = mapped_column(BigInteger)
    # Holding accounts only; counter-account postings leave it empty.
    balance_after: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[Decimal | None] = mapped_column(Money())
    currency: Mapped[str | None] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor_user_id: Mapped[str | None] = mapped_column(String(32))
    real_user_id: Mapped[str | None] = mapped_column(String(32))
    api_key_id: Mapped[str | None] = mapped_column(String(32))

    @property
    def account_label(self) -> str:
        return AccountRef(self.account_kind, self.member_id).label

    @classmethod
    def written(cls, values: dict[str, Any]) -> LedgerEntry:
        """The entry a statement has just written, from its column ``values``: a transient
        object (never added nor flushed: it is in the database already) filled without the
        constructor's per-attribute events, 16 µs an entry and two a usage charge."""
        entry = sa_inspect(cls).class_manager.new_instance()
        entry.__dict__.update(values)
        return entry


# Immutability in the database itself, not only in code.
_PG_FUNCTION = DDL(
    """
    CREATE OR REPLACE FUNCTION ledger_entries_immutable() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ledger entries are immutable';
    END;
    $$ LANGUAGE plpgsql
    """
)
_PG_TRIGGER = DDL(
    "CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries "
    "FOR EACH ROW EXECUTE FUNCTION ledger_entries_immutable()"
)
_SQLITE_NO_UPDATE = DDL(
    "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END"
)
_SQLITE_NO_DELETE = DDL(
    "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
    "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END"
)
for _ddl, _dialect in (
    (_PG_FUNCTION, "postgresql"),
    (_PG_TRIGGER, "postgresql"),
    (_SQLITE_NO_UPDATE, "sqlite"),
    (_SQLITE_NO_DELETE, "sqlite"),
):
    event.listen(LedgerEntry.__table__, "after_create", _ddl.execute_if(dialect=_dialect))


# An entry's account, organization and reseller are an account's own, checked by the
# database. Not a foreign key: the key checked each posting by a query of its own (10 of the
# 27 ms a batch's 2,000 postings took to COPY; bench/README.md, B6), where PostgreSQL checks
# a statement's new entries in one anti-join after it (a COPY or a multi-row INSERT alike);
# SQLite checks each row as it comes. The key also kept a referenced account from being
# deleted or re-keyed: accounts never are, and the database refuses both (ACCOUNTS_KEPT).
# Created here for create_all and by migration c8e0a2b4d6f9, which holds the same text.
ACCOUNTS_KNOWN = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION ledger_entries_accounts_known() RETURNS trigger AS $$
        BEGIN
            IF EXISTS (
                SELECT 1 FROM new_entries AS e
                WHERE NOT EXISTS (
                    SELECT 1 FROM credit_accounts AS a
                    WHERE a.id = e.account_id
                      AND a.organization_id = e.organization_id
                      AND a.reseller_id = e.reseller_id
                )
            ) THEN
                RAISE EXCEPTION 'a ledger entry names no account of its organization'
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER ledger_entries_accounts_known AFTER INSERT ON ledger_entries"
        " REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT"
        " EXECUTE FUNCTION ledger_entries_accounts_known()",
    ),
    "sqlite": (
        "CREATE TRIGGER ledger_entries_account_known BEFORE INSERT ON ledger_entries"
        " WHEN NOT EXISTS (SELECT 1 FROM credit_accounts WHERE id = NEW.account_id"
        " AND organization_id = NEW.organization_id AND reseller_id = NEW.reseller_id)"
        " BEGIN SELECT RAISE(ABORT, 'a ledger entry names no account of its organization');"
        " END",
    ),
}
ACCOUNTS_KEPT = {
    "postgresql": (
        """CREATE OR REPLACE FUNCTION credit_accounts_kept() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'credit accounts are never deleted nor re-keyed'
                USING ERRCODE = 'restrict_violation';
        END;
        $$ LANGUAGE plpgsql""",
        "CREATE TRIGGER credit_accounts_not_deleted BEFORE DELETE ON credit_accounts"
        " FOR EACH ROW EXECUTE FUNCTION credit_accounts_kept()",
        "CREATE TRIGGER credit_accounts_not_rekeyed"
        " BEFORE UPDATE OF id, organization_id, reseller_id ON credit_accounts FOR EACH ROW"
        " WHEN (OLD.id IS DISTINCT FROM NEW.id"
        " OR OLD.organization_id IS DISTINCT FROM NEW.organization_id"
        " OR OLD.reseller_id IS DISTINCT FROM NEW.reseller_id)"
        " EXECUTE FUNCTION credit_accounts_kept()",
    ),
    "sqlite": (
        "CREATE TRIGGER credit_accounts_not_deleted BEFORE DELETE ON credit_accounts"
        " BEGIN SELECT RAISE(ABORT, 'credit accounts are never deleted nor re-keyed'); END",
        "CREATE TRIGGER credit_accounts_not_rekeyed"
        " BEFORE UPDATE OF id, organization_id, reseller_id ON credit_accounts"
        " WHEN OLD.id IS NOT NEW.id OR OLD.organization_id IS NOT NEW.organization_id"
        " OR OLD.reseller_id IS NOT NEW.reseller_id"
        " BEGIN SELECT RAISE(ABORT, 'credit accounts are never deleted nor re-keyed'); END",
    ),
}
created_with(LedgerEntry.__table__, ACCOUNTS_KNOWN)
created_with(CreditAccount.__table__, ACCOUNTS_KEPT)
