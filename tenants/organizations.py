"""Customer organizations: creating them (the rest of their life arrives with the Customer app)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from tenants import audit, notifications
from tenants.actors import Actor
from tenants.errors import ValidationFailed
from tenants.extensions import db
from tenants.models import BillingType, Member, MemberRole, Organization, PricingModel, Reseller
from tenants.policy import Permission, require
from tenants.users import get_or_create_user
from tenants.validation import (
    clean_country,
    clean_currency,
    clean_email,
    clean_text,
    clean_timezone,
    default_currency,
    default_timezone,
)


@dataclass
class BillingDetails:
    type: str = BillingType.COMPANY.value
    name: str | None = None
    address: str | None = None
    tax_id: str | None = None
    email: str | None = None


@dataclass
class NewOrganization:
    name: str
    country: str
    pricing_model: str
    owner_name: str
    owner_email: str
    currency: str | None = None
    timezone: str | None = None
    billing: BillingDetails = field(default_factory=BillingDetails)


def _clean_billing(billing: BillingDetails) -> dict:
    try:
        billing_type = BillingType(billing.type or BillingType.COMPANY.value)
    except ValueError as exc:
        raise ValidationFailed(
            fields={"billing.type": str(_l("Choose individual or company."))}
        ) from exc
    return {
        "billing_type": billing_type,
        "billing_name": clean_text(billing.name, "billing.name", max_length=200, required=False),
        "billing_address": clean_text(
            billing.address, "billing.address", max_length=1000, required=False
        ),
        "billing_tax_id": clean_text(
            billing.tax_id, "billing.tax_id", max_length=64, required=False
        ),
        "billing_email": clean_email(billing.email, "billing.email", required=False),
    }


def _collect(*checks) -> list:
    """Run every check, gathering every field error into one ValidationFailed."""
    results, errors = [], {}
    for check in checks:
        try:
            results.append(check())
        except ValidationFailed as error:
            errors.update(error.fields)
            results.append(None)
    if errors:
        raise ValidationFailed(fields=errors)
    return results


def create_organization(actor: Actor, reseller: Reseller, data: NewOrganization) -> Organization:
    """Create an organization and its owner, who is invited by email to set a password."""
    require(actor, Permission.CREATE_ORGANIZATION)
    name, country, pricing, owner_name, owner_email, billing = _collect(
        lambda: clean_text(data.name, "name", max_length=200),
        lambda: clean_country(data.country),
        lambda: _pricing_model(data.pricing_model),
        lambda: clean_text(data.owner_name, "owner.name", max_length=200),
        lambda: clean_email(data.owner_email, "owner.email"),
        lambda: _clean_billing(data.billing),
    )
    currency, timezone = _collect(
        lambda: clean_currency(data.currency or default_currency(country) or ""),
        lambda: clean_timezone(data.timezone or default_timezone(country) or ""),
    )
    org = Organization(
        reseller_id=reseller.id,
        name=name,
        country=country,
        currency=currency,
        timezone=timezone,
        pricing_model=pricing,
        credit_limit=Decimal("0"),
        **billing,
    )
    db.session.add(org)
    db.session.flush()
    user, _new = get_or_create_user(owner_email, owner_name, language=reseller.default_language)
    owner = Member(
        reseller_id=reseller.id,
        organization_id=org.id,
        user_id=user.id,
        role=MemberRole.OWNER,
        portal_access=True,
    )
    db.session.add(owner)
    db.session.flush()
    audit.record(
        actor,
        "organization.created",
        reseller_id=reseller.id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        changes={
            "name": [None, name],
            "country": [None, country],
            "currency": [None, currency],
            "timezone": [None, timezone],
            "pricing_model": [None, pricing.value],
            "owner": [None, user.email],
        },
    )
    notifications.send_invitation(owner)
    return org


def _pricing_model(value) -> PricingModel:
    try:
        return PricingModel(value)
    except ValueError as exc:
        raise ValidationFailed(
            fields={"pricing_model": str(_l("Choose prepaid or postpaid."))}
        ) from exc


def suspend_organization(actor: Actor, org: Organization, reason: str) -> None:
    """Members can no longer log in, API keys and usage are refused; nothing is deleted."""
    from tenants.errors import Conflict
    from tenants.models import OrganizationStatus
    from tenants.types import utcnow

    require(actor, Permission.MANAGE_ORGANIZATION)
    reason = clean_text(reason, "reason", max_length=500)
    if org.status != OrganizationStatus.ACTIVE:
        raise Conflict(_l("Only an active organization can be suspended."))
    changes = audit.diff(
        org,
        {
            "status": OrganizationStatus.SUSPENDED,
            "suspension_reason": reason,
            "suspended_at": utcnow(),
        },
    )
    db.session.flush()
    audit.record(
        actor,
        "organization.suspended",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        changes=changes,
    )


def reactivate_organization(actor: Actor, org: Organization) -> None:
    from tenants.errors import Conflict
    from tenants.models import OrganizationStatus

    require(actor, Permission.MANAGE_ORGANIZATION)
    if org.status != OrganizationStatus.SUSPENDED:
        raise Conflict(_l("Only a suspended organization can be reactivated."))
    changes = audit.diff(
        org, {"status": OrganizationStatus.ACTIVE, "suspension_reason": None, "suspended_at": None}
    )
    db.session.flush()
    audit.record(
        actor,
        "organization.reactivated",
        reseller_id=org.reseller_id,
        organization_id=org.id,
        target_type="organization",
        target_id=org.id,
        changes=changes,
    )
