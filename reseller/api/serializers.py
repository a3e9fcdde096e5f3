"""Records as the API's JSON objects (SPEC §7): money as decimal strings, times in UTC "Z"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from reseller.api.schemas_credits import INVOICE_BILLING_FIELDS
from tenants.billing.summary import Position
from tenants.core.extensions import db
from tenants.core.types import round_money
from tenants.credits import forecast, topups
from tenants.credits.ledger import Balance
from tenants.invoices import reading
from tenants.models import (
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Member,
    Organization,
    Purchase,
    User,
)
from tenants.notify import recipients
from tenants.web.locale import request_language


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal | None, currency: str) -> str:
    return str(round_money(amount or Decimal("0"), currency))


def decimal_text(value: Decimal) -> str:
    """A decimal as written, without exponent (Decimal("1E+1") would print as "1E+1")."""
    return format(value, "f")


def exact(value: Decimal, min_places: int = 2) -> str:
    """A decimal with the digits it has, no storage zeros: 0.0450 → "0.045", 1 → "1.00"."""
    places = max(-value.normalize().as_tuple().exponent, min_places)
    return decimal_text(value.quantize(Decimal(1).scaleb(-places)))


def owner_ids(orgs: Iterable[Organization]) -> dict[str, str]:
    """Owner member id per organization, in one query for a whole page."""
    return {org_id: owner.id for org_id, owner in recipients.owners_of(orgs).items()}


def organization(org: Organization, owner_id: str | None = None) -> dict[str, Any]:
    if owner_id is None:
        owner_id = owner_ids([org]).get(org.id)
    return {
        "id": org.id,
        "name": org.name,
        "status": org.status.value,
        "country": org.country,
        "currency": org.currency,
        "timezone": org.timezone,
        "pricing_model": org.pricing_model.value,
        "owner_id": owner_id,
        "individual_user_credits": bool(org.individual_user_credits),
        "credit_limit": money(org.credit_limit, org.currency),
        "billing": {
            "type": org.billing_type.value,
            "name": org.effective_billing_name,
            "address": org.billing_address,
            "tax_id": org.billing_tax_id,
            "email": org.billing_email,
        },
        "settings": {
            "sender_name": org.sender_name,
            "notification_email": org.notification_email,
            "notification_mobile": org.notification_mobile,
            "low_balance_alert": bool(org.low_balance_alert),
            "low_balance_threshold": int(org.low_balance_threshold or 0),
            "alert_email": org.alert_email,
            "forecast_alert_days": org.forecast_alert_days,
        },
        "auto_top_up": {
            "enabled": bool(org.auto_top_up_enabled),
            "below": int(org.auto_top_up_below or 0),
            "credits": int(org.auto_top_up_credits or 0),
            "monthly_limit": topups.monthly_limit(org),
        },
        "forecast": _forecast(org),
        "created_at": timestamp(org.created_at),
    }


def _forecast(org: Organization) -> dict[str, Any] | None:
    found = forecast.forecast_of(org)
    if found is None:
        return None
    return {"daily_usage": str(found.daily_usage), "days_left": found.days_left}


def organizations(orgs: list[Organization]) -> list[dict[str, Any]]:
    owners = owner_ids(orgs)
    return [organization(org, owners.get(org.id)) for org in orgs]


def member(m: Member) -> dict[str, Any]:
    return {
        "id": m.id,
        "organization_id": m.organization_id,
        "name": m.user.name,
        "email": m.user.email,
        "mobile": m.user.mobile,
        "role": m.role.value,
        "portal_access": bool(m.portal_access),
        "created_at": timestamp(m.created_at),
    }


def price_list(prices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "prices": [
            {
                "currency": row["currency"],
                "prepaid_unit_price": decimal_text(row["prepaid_unit_price"]),
                "postpaid_unit_price": decimal_text(row["postpaid_unit_price"]),
                "default_credit_limit": money(row["default_credit_limit"], row["currency"]),
            }
            for row in prices
        ]
    }


def tax_rates(rates: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "tax_rates": [
            {"country": row["country"], "percent": decimal_text(row["percent"])} for row in rates
        ]
    }


# -- credits, movements, invoices ---------------------------------------------------------


def balance(org: Organization, held: Balance, position: Position) -> dict[str, Any]:
    return {
        "system_credits": held.system_credits,
        "users": [{"member_id": member_id, "credits": n} for member_id, n in held.users],
        "total_credits": held.total_credits,
        "reserved_credits": held.reserved_credits,
        "available_credits": held.available_credits,
        "unbilled": money(position.unbilled, org.currency),
        "unbilled_tax": money(position.unbilled_tax, org.currency),
        "open_invoices": money(position.open_invoices, org.currency),
        "credit_on_account": money(position.credit_on_account, org.currency),
        "debt": money(position.debt, org.currency),
        "credit_limit": money(org.credit_limit, org.currency),
        "currency": org.currency,
    }


def purchase(p: Purchase, payment_url: str | None = None) -> dict[str, Any]:
    return {
        "id": p.id,
        "credits": p.credits,
        "account": p.account,
        "status": p.status.value,
        "payment_method": p.payment_method,
        "amounts": {
            "currency": p.currency,
            "unit_price": exact(p.unit_price),
            "subtotal": money(p.subtotal, p.currency),
            "tax_percent": exact(p.tax_percent, 0),
            "tax": money(p.tax, p.currency),
            "total": money(p.total, p.currency),
        },
        "receipt_id": p.receipt_id,
        "payment_url": payment_url,
        "created_at": timestamp(p.created_at),
    }


def _emails(user_ids: Iterable[str | None]) -> dict[str, str]:
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _actor(entry: LedgerEntry, emails: dict[str, str]) -> dict[str, Any]:
    if entry.actor_user_id:
        kind, ident = "user", entry.actor_user_id
    elif entry.api_key_id:
        kind, ident = "api_key", entry.api_key_id
    else:
        kind, ident = "system", None
    return {
        "type": kind,
        "id": ident,
        "email": emails.get(entry.actor_user_id or ""),
        "support_agent_email": emails.get(entry.real_user_id or ""),
    }


def ledger_entries(entries: list[LedgerEntry]) -> list[dict[str, Any]]:
    """Entries with who made them, the people's emails read in one query for the page."""
    emails = _emails(user for e in entries for user in (e.actor_user_id, e.real_user_id))
    return [
        {
            "id": e.id,
            "created_at": timestamp(e.created_at),
            "occurred_at": timestamp(e.occurred_at),
            "type": e.type.value,
            "account": e.account_label,
            "credits": e.credits,
            "balance_after": e.balance_after,
            "amount": money(e.amount, e.currency) if e.amount is not None and e.currency else None,
            "reference": e.reference,
            "actor": _actor(e, emails),
        }
        for e in entries
    ]


def ledger_entry(entry: LedgerEntry) -> dict[str, Any]:
    return ledger_entries([entry])[0]


def _invoice_lines(invoice: Invoice, lines: list[InvoiceLine], locale: str) -> list[dict]:
    """Lines described in the reader's language, unit prices with all their digits."""
    return [
        {
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": exact(line.unit_price),
            "amount": money(line.amount, invoice.currency),
            "tax_percent": exact(line.tax_percent, 0),
            "occurred_at": timestamp(line.occurred_at),
            "reference": line.reference,
        }
        for line in reading.shown_lines(invoice, lines, locale)
    ]


def _taxes(invoice: Invoice) -> list[dict[str, str]]:
    return [
        {
            "percent": exact(line.percent, 0),
            "base": money(line.base, invoice.currency),
            "tax": money(line.tax, invoice.currency),
        }
        for line in reading.taxes_of(invoice)
    ]


def invoices(items: list[Invoice]) -> list[dict[str, Any]]:
    """Invoices with their lines (read in one query for the page), described in the
    request's language (Accept-Language)."""
    locale = request_language()
    lines: dict[str, list[InvoiceLine]] = {}
    if items:
        lines = {
            invoice_id: list(invoice_lines)
            for invoice_id, invoice_lines in db.session.execute(
                select(Invoice.id, Invoice.lines).where(Invoice.id.in_([i.id for i in items]))
            )
        }
    return [
        {
            "id": i.id,
            "organization_id": i.organization_id,
            "number": i.number,
            "kind": i.kind.value,
            "period": i.period,
            "issued_at": timestamp(i.issued_at),
            "paid_at": timestamp(i.paid_at),
            "currency": i.currency,
            "subtotal": money(i.subtotal, i.currency),
            "tax": money(i.tax, i.currency),
            "total": money(i.total, i.currency),
            "status": i.status.value,
            "billing": {name: (i.billing or {}).get(name) for name in INVOICE_BILLING_FIELDS},
            "seller": reading.seller_of(i),
            "taxes": _taxes(i),
            "lines": _invoice_lines(i, lines[i.id], locale),
        }
        for i in items
    ]


def invoice(item: Invoice) -> dict[str, Any]:
    return invoices([item])[0]
