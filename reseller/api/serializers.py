"""Records as the API's JSON objects (SPEC §7): money as decimal strings, times in UTC "Z"."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from tenants.extensions import db
from tenants.models import Member, MemberRole, Organization
from tenants.types import round_money


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def money(amount: Decimal | None, currency: str) -> str:
    return str(round_money(amount or Decimal("0"), currency))


def decimal_text(value: Decimal) -> str:
    """A decimal as written, without exponent (Decimal("1E+1") would print as "1E+1")."""
    return format(value, "f")


def owner_ids(org_ids: Iterable[str]) -> dict[str, str]:
    """Owner member id per organization, in one query for a whole page."""
    ids = list(org_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        select(Member.organization_id, Member.id).where(
            Member.organization_id.in_(ids),
            Member.role == MemberRole.OWNER,
            Member.removed_at.is_(None),
        )
    )
    return dict(rows.all())


def organization(org: Organization, owner_id: str | None = None) -> dict[str, Any]:
    if owner_id is None:
        owner_id = owner_ids([org.id]).get(org.id)
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
        },
        "auto_top_up": {
            "enabled": bool(org.auto_top_up_enabled),
            "below": int(org.auto_top_up_below or 0),
            "credits": int(org.auto_top_up_credits or 0),
        },
        "created_at": timestamp(org.created_at),
    }


def organizations(orgs: list[Organization]) -> list[dict[str, Any]]:
    owners = owner_ids(org.id for org in orgs)
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
