"""The check that every issued invoice adds up: its lines (kept in its row, ``lines``) sum
to its subtotal. The database enforces it on every new invoice (a CHECK on PostgreSQL, a
trigger on SQLite, see tenants.models.billing); this reads every stored invoice, so it also
covers the ones issued before the check existed (``flask billing check-invoices``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from tenants.core.extensions import db
from tenants.models import Invoice


@dataclass(frozen=True)
class Mismatch:
    invoice_id: str
    number: str
    subtotal: Decimal
    lines_total: Decimal


def invoices_not_adding_up(chunk: int = 1000) -> Iterator[Mismatch]:
    """Every invoice whose lines do not sum to its subtotal, in id order (read a chunk of
    invoices at a time)."""
    after = ""
    while True:
        rows = db.session.execute(
            select(Invoice.id, Invoice.number, Invoice.subtotal, Invoice.lines)
            .where(Invoice.id > after)
            .order_by(Invoice.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for invoice_id, number, subtotal, lines in rows:
            total = sum((line.amount for line in lines), Decimal(0))
            if total != subtotal:
                yield Mismatch(invoice_id, number, subtotal, total)
        after = rows[-1][0]
