"""Customer organizations: create, edit, suspend, reactivate and delete them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.access.policy import Permission, WhileActing, refuse_while_acting, require
from tenants.audit import log as audit
from tenants.billing import postpaid
from tenants.core.checks import collect_field_errors
from tenants.core.errors import (
    Conflict,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import currency_places, utcnow
from tenants.core.validation import (
    clean_country,
    clean_currency,
    clean_email,
    clean_text,
    clean_timezone,
    default_currency,
    default_timezone,
)
from tenants.credits import forecast, topups
from tenants.credits import operations as credit_operations
from tenants.credits.ledger import lock_organization, total_credits
from tenants.models import (
    BillingType,
    Member,
    MemberRole,
    Organization,
    OrganizationStatus,
    PricingModel,
    Reseller,
)
from tenants.organizations import closeout, notices
from tenants.organizations.fields import (
    EDITABLE_FIELDS,
    clean_billing_type,
    clean_pricing_model,
)
from tenants.people import invitations as notifications
from tenants.people.identity import refuse_staff_as_member
from tenants.people.users import get_or_create_user
from tenants.resellers import pricing


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
    # None: a postpaid organization starts with the reseller's default for its currency.
    credit_limit: Any = None


def _clean_billing(billing: BillingDetails) -> dict:
    return collect_field_errors(
        {
            "billing_type": lambda: clean_billing_type(billing.type),
            "billing_name": lambda: clean_text(
                billing.name, "billing.name", max_length=200, required=False
            ),
            "billing_address": lambda: clean_text(
                billing.address,
                "billing.address",
                max_length=1000,
                required=False,
                one_line=False,
            ),
            "billing_tax_id": lambda: clean_text(
                billing.tax_id, "billing.tax_id", max_length=64, required=False
            ),
            "billing_email": lambda: clean_email(billing.email, "billing.email", required=False),
        }
    )


# -- creating -------------------------------------------------------------------------------


def _clean_new_organization(data: NewOrganization) -> dict[str, Any]:
    """Every field of ``data`` cleaned; currency and timezone default from the country."""
    if not isinstance(data.billing, BillingDetails):
        raise ValidationFailed(fields={"billing": str(_l("Must be an object."))})
    clean = collect_field_errors(
        {
            "name": lambda: clean_text(data.name, "name", max_length=200),
            "country": lambda: clean_country(data.country),
            "pricing_model": lambda: clean_pricing_model(data.pricing_model),
            "owner_name": lambda: clean_text(data.owner_name, "owner.name", max_length=200),
            "owner_email": lambda: clean_email(data.owner_email, "owner.email"),
            "billing": lambda: _clean_billing(data.billing),
            # Checked here too so that every field error is reported at once.
            "currency": lambda: data.currency and clean_currency(data.currency),
            "timezone": lambda: data.timezone and clean_timezone(data.timezone),
        }
    )
    country = clean["country"]
    currency = data.currency or default_currency(country) or ""
    clean |= collect_field_errors(
        {
            "currency": lambda: clean_currency(currency),
            "timezone": lambda: clean_timezone(data.timezone or default_timezone(country) or ""),
            "credit_limit": lambda: (
                None
                if data.credit_limit is None
                else pricing.clean_credit_limit(data.credit_limit, str(currency).upper())
            ),
        }
    )
    return clean


def _starting_credit_limit(reseller: Reseller, clean: dict[str, Any]) -> Decimal:
    """The one given, else for a postpaid organization the reseller's default for its
    currency (price list), else 0."""
    if clean["credit_limit"] is not None:
        return clean["credit_limit"]
    if clean["pricing_model"] == PricingModel.POSTPAID:
        return pricing.default_credit_limit(reseller.id, clean["currency"])
    return Decimal("0")


def create_organization(actor: Actor, reseller: Reseller, data: NewOrganization) -> Organization:
    """Create an organization and its owner, who is invited by email to set a password.

    Currency and timezone default from the country when not given; a postpaid organization's
    credit limit from the reseller's price list when not given. Field errors are keyed by
    the API's JSON paths ("owner.email", "billing.name", ...). Billing name left empty means
    "the organization's name" (Organization.effective_billing_name). The owner is a
    member, so a staff email is refused (tenants.people.identity).
    """
    require(actor, Permission.CREATE_ORGANIZATION)
    clean = _clean_new_organization(data)
    refuse_staff_as_member(clean["owner_email"], "owner.email")
    billing = clean.pop("billing")
    credit_limit = _starting_credit_limit(reseller, clean)
    org = Organization(
        reseller_id=reseller.id,
        name=clean["name"],
        country=clean["country"],
        currency=clean["currency"],
        timezone=clean["timezone"],
        pricing_model=clean["pricing_model"],
        credit_limit=credit_limit,
        **billing,
    )
    db.session.add(org)
    db.session.flush()
    user, _new = get_or_create_user(
        clean["owner_email"], clean["owner_name"], language=reseller.default_language
    )
    owner = Member(
        reseller_id=reseller.id,
        organization_id=org.id,
        user_id=user.id,
        role=MemberRole.OWNER,
        portal_access=True,
    )
    db.session.add(owner)
    org.owner_email = user.email
    audit.record_on(
        actor,
        org,
        "organization.created",
        {
            "name": [None, clean["name"]],
            "country": [None, clean["country"]],
            "currency": [None, clean["currency"]],
            "timezone": [None, clean["timezone"]],
            "pricing_model": [None, clean["pricing_model"].value],
            "billing.type": [None, billing["billing_type"].value],
            "billing.name": [None, billing["billing_name"]],
            "credit_limit": [None, str(credit_limit)],
            "owner": [None, user.email],
        },
    )
    notifications.send_invitation(owner)
    return org


# -- what it holds and owes -----------------------------------------------------------------


def organization_credits(org: Organization) -> int:
    """Credits held across the system pool and every member account."""
    return total_credits(org)


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges and their tax plus unpaid invoices (less payments received ahead
    of invoices)."""
    return postpaid.organization_debt(org)


# -- editing --------------------------------------------------------------------------------

# What may change only while nothing is held, owed, unbilled or paid ahead (SPEC §2).
SETTLED_ONLY = ("pricing_model", "currency")


def pricing_model_locked(org: Organization) -> bool:
    """The pricing model and the currency may change only while no credits are held and
    nothing is owed, unbilled or paid ahead."""
    return not closeout.settled(org)


def _clean_updates(org: Organization, values: dict) -> dict[str, Any]:
    """Every given field cleaned, then the rules between fields; all errors raised at once."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for path, raw in values.items():
        try:
            cleaned[path] = EDITABLE_FIELDS[path].clean(raw, path)
        except ValidationFailed as error:
            errors.update(error.fields)
    if "credit_limit" in cleaned:
        places = currency_places(cleaned.get("currency") or org.currency)
        if cleaned["credit_limit"] != round(cleaned["credit_limit"], places):
            errors["credit_limit"] = str(_l("Use at most %(n)d decimal places.", n=places))
    if not errors:
        final = {
            path: cleaned[path] if path in cleaned else getattr(org, spec.attribute)
            for path, spec in EDITABLE_FIELDS.items()
        }
        if final["auto_top_up.enabled"]:
            if final["pricing_model"] != PricingModel.PREPAID:
                errors["auto_top_up.enabled"] = str(
                    _l("Automatic top-up is for prepaid organizations.")
                )
            else:
                if final["auto_top_up.credits"] <= 0:
                    errors["auto_top_up.credits"] = str(_l("Enter how many credits to buy."))
                # It buys when the pool drops *below* the level: below 0 never happens. (Asked
                # of a change to it only: it was not refused before, so it may be stored.)
                changing = any(path.startswith("auto_top_up.") for path in cleaned)
                if changing and final["auto_top_up.below"] <= 0:
                    errors["auto_top_up.below"] = str(
                        _l("Enter the level: credits are bought when the pool drops below it.")
                    )
    if errors:
        raise ValidationFailed(fields=errors)
    return cleaned


def _switch_off_individual_credits(
    actor: Actor, org: Organization, cleaned: dict[str, Any], *, move: bool
) -> int:
    """When individual credits go off: serialized with transfers into member accounts,
    refused while members hold credits, or those moved to the pool first (``move``)."""
    switching_off = cleaned.get("individual_user_credits") is False
    if move and not switching_off:
        raise ValidationFailed(
            fields={
                "move_member_credits_to_pool": str(
                    _l("Only when switching individual user credits off.")
                )
            }
        )
    if not switching_off or not org.individual_user_credits:
        return 0
    return credit_operations.close_member_accounts(actor, org, move=move)


def _audited(path: str, change: list) -> list:
    """A change as the audit log keeps it (a bank account masked, never in full)."""
    shown = EDITABLE_FIELDS[path].audited
    return [shown(value) if value is not None else None for value in change] if shown else change


def update_organization(
    actor: Actor, org: Organization, values: dict, *, move_member_credits_to_pool: bool = False
) -> dict[str, list]:
    """Change the given fields (keyed by API paths); returns ``{path: [before, after]}``.

    Everything is validated before anything changes; unknown fields and wrong types are
    refused, never ignored. Writes one audit entry with the fields that really changed.
    Switching individual user credits off is refused while members hold credits, unless
    ``move_member_credits_to_pool``: they then go back to the system pool in the same step
    (``credits_returned`` in the changes).
    """
    if not isinstance(values, dict):
        raise ValidationFailed()
    unknown = [key for key in values if key not in EDITABLE_FIELDS]
    if unknown:
        raise ValidationFailed(
            fields={str(key)[:100]: str(_l("Unknown field.")) for key in unknown}
        )
    for path in values:
        require(actor, EDITABLE_FIELDS[path].permission)

    cleaned = _clean_updates(org, values)

    for path in SETTLED_ONLY:
        if path in cleaned and cleaned[path] != getattr(org, EDITABLE_FIELDS[path].attribute):
            closeout.require_settled_for(org, path)

    returned = _switch_off_individual_credits(actor, org, cleaned, move=move_member_credits_to_pool)
    if "credit_limit" in cleaned:  # a lower limit may take days left across the alert days
        forecast.credit_limit_changing(org, cleaned["credit_limit"])
    by_attribute = {spec.attribute: path for path, spec in EDITABLE_FIELDS.items()}
    changed = audit.diff(
        org, {EDITABLE_FIELDS[path].attribute: value for path, value in cleaned.items()}
    )
    changes = {
        by_attribute[name]: _audited(by_attribute[name], change) for name, change in changed.items()
    }
    if returned:
        changes["credits_returned"] = [None, returned]
    if changes:
        audit.record_on(actor, org, "organization.updated", changes)
    return changes


# -- lifecycle ------------------------------------------------------------------------------


def suspend_organization(actor: Actor, org: Organization, reason: str) -> None:
    """Members can no longer log in, API keys and usage are refused; nothing is deleted.
    The owner and the notification email are told, with the reason."""
    refuse_while_acting(actor, WhileActing.SUSPEND_ORGANIZATION)
    require(actor, Permission.MANAGE_ORGANIZATION)
    reason = clean_text(reason, "reason", max_length=500, one_line=False)
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
    audit.record_on(actor, org, "organization.suspended", changes)
    notices.tell_suspended(org)


def reactivate_organization(actor: Actor, org: Organization) -> None:
    """Members may log in again; the suspension reason is kept in the audit log."""
    require(actor, Permission.MANAGE_ORGANIZATION)
    if org.status != OrganizationStatus.SUSPENDED:
        raise Conflict(_l("Only a suspended organization can be reactivated."))
    changes = audit.diff(
        org, {"status": OrganizationStatus.ACTIVE, "suspension_reason": None, "suspended_at": None}
    )
    audit.record_on(actor, org, "organization.reactivated", changes)


def delete_organization(actor: Actor, org: Organization) -> None:
    """Soft delete: the organization leaves every list and its members cannot log in.

    Refused while it holds credits (withdraw them first) or has anything unbilled, owed or
    paid ahead (the guided close-out: final invoice, payment); never invoiced again after.
    Its ledger and invoices are kept for accounting.
    """
    # Never while acting as someone else (SPEC §5).
    refuse_while_acting(actor, WhileActing.DELETE_ORGANIZATION)
    require(actor, Permission.MANAGE_ORGANIZATION)
    # Lock the row: a purchase committing meanwhile either lands before the balance check
    # or finds the organization deleted (the ledger refuses postings to deleted ones).
    lock_organization(org)
    if org.status == OrganizationStatus.DELETED:
        raise Conflict(_l("The organization is already deleted."))
    closeout.require_nothing_held(org)
    changes = audit.diff(org, {"status": OrganizationStatus.DELETED, "deleted_at": utcnow()})
    audit.record_on(actor, org, "organization.deleted", changes)


def remove_saved_card(actor: Actor, org: Organization) -> topups.RemovedCard | None:
    """Forget the organization's saved card and, since top-ups need it, switch automatic
    top-up off (audited as a settings change)."""
    removed = topups.remove_card(actor, org)
    if removed is None or not org.auto_top_up_enabled:
        return removed
    update_organization(actor, org, {"auto_top_up.enabled": False})
    return dataclasses.replace(removed, auto_top_up_disabled=True)
