"""How an issued invoice or receipt reads, the same on its page, its PDF and in the API:
its lines described in the reader's language (they are stored as keys and numbers), its
seller and its tax per rate — and what the invoices issued before those were stored show
instead (one rate from their tax percent, the reseller's current name)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from flask_babel import force_locale
from flask_babel import gettext as _

from tenants.core.extensions import db
from tenants.invoices.amounts import TaxLine
from tenants.models import Invoice, InvoiceItem, InvoiceLine, Reseller

SELLER_FIELDS = ("name", "address", "tax_id", "country")


@dataclass(frozen=True)
class ShownLine:
    description: str
    quantity: int
    unit_price: Decimal  # full precision
    amount: Decimal
    tax_percent: Decimal
    reference: str | None
    occurred_at: datetime | None


def describe(line: InvoiceLine, locale: str) -> str:
    """The line's text in the current language (see ``shown_lines`` for a given one)."""
    if line.item == InvoiceItem.SMS_CREDITS:
        return _("SMS credits")
    if line.item == InvoiceItem.SMS_USAGE and line.item_date is not None:
        return _("SMS usage — %(date)s", date=format_date(line.item_date, "medium", locale=locale))
    return line.description or line.item or ""


def shown_lines(invoice: Invoice, lines: list[InvoiceLine], locale: str) -> list[ShownLine]:
    """The invoice's lines as a reader of ``locale`` reads them."""
    with force_locale(locale):
        return [
            ShownLine(
                description=describe(line, locale),
                quantity=line.quantity,
                unit_price=line.unit_price,
                amount=line.amount,
                tax_percent=line_tax_percent(invoice, line),
                reference=line.reference,
                occurred_at=line.occurred_at,
            )
            for line in lines
        ]


def line_tax_percent(invoice: Invoice, line: InvoiceLine) -> Decimal:
    """The line's rate; a line issued before lines kept one has the invoice's."""
    return line.tax_percent if line.tax_percent is not None else invoice.tax_percent


def taxes_of(invoice: Invoice) -> list[TaxLine]:
    """The tax per rate as issued; an invoice issued before it was kept has one rate."""
    if invoice.taxes is None:
        return [TaxLine(invoice.tax_percent, invoice.subtotal, invoice.tax)]
    return [
        TaxLine(Decimal(item["percent"]), Decimal(item["base"]), Decimal(item["tax"]))
        for item in invoice.taxes
    ]


def seller_of(invoice: Invoice) -> dict[str, Any]:
    """The seller as issued; an invoice issued before it was kept names the reseller as it
    is called now, with no other detail."""
    if invoice.seller is not None:
        return {name: invoice.seller.get(name) for name in SELLER_FIELDS}
    reseller = db.session.get(Reseller, invoice.reseller_id)
    name = (reseller.legal_name or reseller.name) if reseller else None
    return {"name": name, "address": None, "tax_id": None, "country": None}
