"""Invoices and receipts: gapless numbering per reseller, issuing, and the PDF."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from flask import render_template
from flask_babel import force_locale
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.core import paging
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.invoices import amounts, reading
from tenants.jobs.registry import warm_up
from tenants.models import (
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceSequence,
    InvoiceStatus,
    Organization,
    Reseller,
)


def billing_snapshot(org: Organization) -> dict[str, Any]:
    """The billing details as they are now, frozen into what is issued (``org`` may also be
    a row with the same columns: the monthly run reads them in bulk)."""
    return {
        "type": org.billing_type.value if org.billing_type else "company",
        "name": org.billing_name or org.name,  # Organization.effective_billing_name
        "address": org.billing_address,
        "tax_id": org.billing_tax_id,
        "email": org.billing_email,
        "country": org.country,
        "organization_name": org.name,
    }


def next_invoice_number(reseller: Reseller) -> tuple[int, str]:
    """Take the reseller's next number under a row lock; a rollback gives it back (no gaps)."""
    return take_invoice_numbers(reseller.id, reseller.slug, 1)[0]


def number_prefix(slug: str | None) -> str:
    return (slug or "inv").upper()[:12]


def take_invoice_numbers(reseller_id: str, slug: str | None, count: int) -> list[tuple[int, str]]:
    """Take ``count`` consecutive numbers of the reseller in one UPDATE of its sequence row
    (row lock until commit; a rollback gives them all back: numbers never skip)."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(InvoiceSequence)
        .values(reseller_id=reseller_id, next_number=1)
        .on_conflict_do_nothing(index_elements=["reseller_id"])
    )
    first = db.session.execute(
        update(InvoiceSequence)
        .where(InvoiceSequence.reseller_id == reseller_id)
        .values(next_number=InvoiceSequence.next_number + count)
        .returning(InvoiceSequence.next_number - count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    prefix = number_prefix(slug)
    return [(n, f"{prefix}-{n:06d}") for n in range(first, first + count)]


def seller_snapshot(reseller: Reseller) -> dict[str, Any]:
    """The seller as it is now, frozen into what is issued: the reseller's legal name (else
    its name), address, tax number and country (``reseller`` may also be a row with these
    columns: the monthly run reads them in bulk)."""
    return {
        "name": reseller.legal_name or reseller.name,
        "address": reseller.legal_address,
        "tax_id": reseller.tax_id,
        "country": reseller.country,
    }


def issue_invoice(
    org: Organization,
    *,
    kind: InvoiceKind,
    lines: list[dict[str, Any]],
    billing: dict[str, Any],
    language: str,
    tax_percent: Decimal = Decimal(0),
    period: str | None = None,
    paid: bool = False,
    issued_at: datetime | None = None,
) -> Invoice:
    """Issue a numbered invoice with its lines, in one row; it never changes afterwards (but
    its status).

    A line is ``{"item": InvoiceItem, "item_date"?, "quantity", "unit_price", "tax_percent"?
    (else ``tax_percent``), "reference"?, "occurred_at"?}``: its amount and the invoice's
    totals are computed here (tenants.invoices.amounts), its text when it is read."""
    currency = org.currency
    rows = [
        InvoiceLine(
            item=str(line["item"]),
            item_date=line.get("item_date"),
            quantity=line["quantity"],
            unit_price=Decimal(line["unit_price"]),
            amount=amounts.line_amount(line["quantity"], line["unit_price"], currency),
            tax_percent=Decimal(line.get("tax_percent", tax_percent)),
            occurred_at=line.get("occurred_at"),
            reference=line.get("reference"),
        )
        for line in lines
    ]
    result = amounts.totals_per_rate(
        amounts.bases_of((row.tax_percent, row.amount) for row in rows), currency
    )
    sequence, number = next_invoice_number(org.reseller)
    now = issued_at or utcnow()
    invoice = Invoice(
        reseller_id=org.reseller_id,
        organization_id=org.id,
        sequence=sequence,
        number=number,
        kind=kind,
        period=period,
        status=InvoiceStatus.PAID if paid else InvoiceStatus.OPEN,
        currency=currency,
        subtotal=result.subtotal,
        tax_percent=result.main_percent if rows else Decimal(tax_percent),
        tax=result.tax,
        total=result.total,
        taxes=result.taxes_record(),
        billing=billing,
        seller=seller_snapshot(org.reseller),
        language=language,
        issued_at=now,
        paid_at=now if paid else None,
        lines=tuple(rows),  # in the same row: an invoice's lines are never written apart
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def invoice_lines(invoice: Invoice) -> list[InvoiceLine]:
    """The invoice's lines in order (loaded with the invoice's ``lines`` when first read)."""
    return list(invoice.lines)


def render_invoice_html(invoice: Invoice, language: str | None = None) -> str:
    """The invoice's printable page (the PDF's source) in ``language`` (the buyer's by
    default): seller and buyer as issued, lines in that language at full-precision unit
    prices, the tax per rate."""
    from zoneinfo import ZoneInfo

    from babel import Locale
    from babel.dates import format_date, format_datetime
    from babel.numbers import format_currency, format_decimal

    org = db.session.get(Organization, invoice.organization_id)
    locale = language or invoice.language
    zone = ZoneInfo(org.timezone)

    def money(amount) -> str:
        return format_currency(amount, invoice.currency, locale=locale)

    def unit_price(amount: Decimal) -> str:
        """All the price's digits (€0.045), never rounded to the currency's minor unit."""
        return format_currency(
            amount.normalize(), invoice.currency, locale=locale, decimal_quantization=False
        )

    def when(value, with_time: bool = True) -> str:
        if value is None:
            return ""
        local = value.astimezone(zone)
        if with_time:
            return format_datetime(local, "medium", tzinfo=zone, locale=locale)
        return format_date(local.date(), "long", locale=locale)

    with force_locale(locale):
        return render_template(
            "pdf/invoice.html",
            invoice=invoice,
            lines=reading.shown_lines(invoice, invoice_lines(invoice), locale),
            seller=reading.seller_of(invoice),
            taxes=reading.taxes_of(invoice),
            org=org,
            reseller=org.reseller,
            money=money,
            unit_price=unit_price,
            when=when,
            number=lambda n: format_decimal(n, locale=locale),
            percent=lambda p: format_decimal(p.normalize(), locale=locale),
            country_name=lambda code: Locale.parse(locale).territories.get(code, code),
            locale=locale,
        )


@functools.cache
def _font_config():
    """One WeasyPrint font configuration per process: building it (fontconfig's font list)
    is about a third of rendering a receipt, and the fonts never change while it runs."""
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


@warm_up
def load_pdf_renderer() -> None:
    """Load WeasyPrint and its native libraries (Pango, HarfBuzz, fontconfig). It looks some
    of them up by name with ctypes' find_library, which runs gcc and ld: done once in the job
    worker's parent, not again in every process it forks (each lookup a copy of a 120 MB
    process and a burst of CPU beside the web server's requests)."""
    import weasyprint  # noqa: F401 - imported for its side effect: the libraries loaded


def html_to_pdf(html: str) -> bytes:
    """A printable page (a template under templates/pdf/) as a PDF: invoices, receipts and
    statements alike, with the process's one font configuration."""
    from weasyprint import HTML

    return HTML(string=html).write_pdf(font_config=_font_config())


def render_invoice_pdf(invoice: Invoice, language: str | None = None) -> bytes:
    """The invoice as a PDF, in the given language (the buyer's by default)."""
    return html_to_pdf(render_invoice_html(invoice, language))


# -- listing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoicePage:
    items: list[Invoice]
    next_cursor: str | None  # the page of older invoices, if any


INVOICE_CURSOR = paging.Cursor((paging.MOMENT, paging.TEXT))


def invoice_page(
    actor: Actor, org: Organization, *, limit: int = 50, cursor: str | None = None
) -> InvoicePage:
    """The organization's invoices and receipts the actor may see, newest first, a page at a
    time (keyset on issued_at, id: the index ix_invoices_org_issued serves it)."""
    query = scoping.invoices_query(actor, org)
    if cursor:
        query = query.where(
            paging.keyset_before((Invoice.issued_at, Invoice.id), INVOICE_CURSOR.decode(cursor))
        )
    query = query.order_by(Invoice.issued_at.desc(), Invoice.id.desc()).limit(limit + 1)
    items = list(db.session.scalars(query))
    last = items[limit - 1] if len(items) > limit else None
    next_cursor = INVOICE_CURSOR.encode(last.issued_at, last.id) if last else None
    return InvoicePage(items=items[:limit], next_cursor=next_cursor)
