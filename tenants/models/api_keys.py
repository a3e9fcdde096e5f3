"""API keys of resellers and organizations, stored idempotent answers and rate counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tenants.core.extensions import db
from tenants.core.types import UTCDateTime, new_id, utcnow


class ApiKey(db.Model):
    """A key of a reseller (organization_id empty) or of one of its organizations.

    Only the SHA-256 of the secret is kept; ``prefix`` is the public start of the key,
    shown in lists and used to find the row before the constant-time hash comparison.
    """

    __tablename__ = "api_keys"
    __table_args__ = (
        Index("ix_api_keys_reseller_org", "reseller_id", "organization_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("key"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    organization_id: Mapped[str | None] = mapped_column(ForeignKey("organizations.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def __repr__(self) -> str:
        return f"<ApiKey {self.prefix}>"


class IdempotencyKey(db.Model):
    """The first answer to a POST sent with an ``Idempotency-Key`` header (kept 24 hours).

    The row is inserted (and committed) before the request runs, so a concurrent duplicate
    finds it; the answer is written in the same transaction as the request's effect.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("api_key_id", "key"),
        Index("ix_idempotency_keys_created", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=lambda: new_id("idk"))
    reseller_id: Mapped[str] = mapped_column(ForeignKey("resellers.id"))
    api_key_id: Mapped[str] = mapped_column(ForeignKey("api_keys.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # When the running request claimed the key; a claim left by a crashed server expires.
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
