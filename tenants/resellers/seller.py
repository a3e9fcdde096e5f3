"""The reseller as the seller on its tax invoices and receipts (EU VAT Directive art. 226):
its legal name, address, tax number and country, edited by its admins.

What is issued keeps a copy as it was (tenants.invoices.documents.seller_snapshot); a change
here shows on the next invoice, never on one already issued.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.extensions import db
from tenants.core.validation import clean_country, clean_text
from tenants.models import Reseller

# Field → (column, longest text). The address may hold several lines.
SELLER_FIELDS = {
    "legal_name": ("legal_name", 200),
    "address": ("legal_address", 1000),
    "tax_id": ("tax_id", 64),
}


def seller_details(reseller: Reseller) -> dict[str, Any]:
    """``{legal_name, address, tax_id, country}`` as set (None where not set)."""
    details = {field: getattr(reseller, column) for field, (column, _) in SELLER_FIELDS.items()}
    details["country"] = reseller.country
    return details


def _clean_optional_country(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return clean_country(value)


def _clean_field(data: dict[str, Any], field: str, limit: int) -> str | None:
    """Text without control characters; only the address may hold several lines."""
    one_line = field != "address"
    return clean_text(data.get(field), field, max_length=limit, required=False, one_line=one_line)


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """Every field checked, every problem reported at once; empty text clears a field."""
    checks = {
        field: (lambda field=field, limit=limit: _clean_field(data, field, limit))
        for field, (_, limit) in SELLER_FIELDS.items()
    }
    checks["country"] = lambda: _clean_optional_country(data.get("country"))
    return collect_field_errors(checks)


def _normalized_address(value: str | None) -> str | None:
    """Line ends as \\n, each line stripped, no empty lines."""
    if value is None:
        return None
    lines = [line.strip() for line in value.splitlines()]
    return "\n".join(line for line in lines if line) or None


def update_seller_details(actor: Actor, reseller: Reseller, data: dict[str, Any]) -> Reseller:
    """Set the reseller's seller details (validated, audited, flushed): reseller admins of
    this reseller only (another reseller's is a 404)."""
    require(actor, Permission.MANAGE_RESELLER_SETTINGS)
    scoping.get_reseller(actor, reseller.id)
    clean = _clean(data)
    clean["address"] = _normalized_address(clean["address"])
    db.session.execute(select(Reseller.id).where(Reseller.id == reseller.id).with_for_update())
    before = seller_details(reseller)
    for field, (column, _) in SELLER_FIELDS.items():
        setattr(reseller, column, clean[field])
    reseller.country = clean["country"]
    after = seller_details(reseller)
    changes = {
        field: [before[field], after[field]] for field in after if before[field] != after[field]
    }
    db.session.flush()
    if changes:
        audit.record(
            actor,
            "reseller.seller_changed",
            reseller_id=reseller.id,
            target_type="reseller",
            target_id=reseller.id,
            changes=changes,
        )
        db.session.flush()
    return reseller
