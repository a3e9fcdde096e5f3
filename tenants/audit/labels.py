"""Readable, translated words for audit actions, the fields they change and their values.

Audit entries keep keys (``purchase.paid``, ``settings.sender_name``, ``returned``), never
words: this module reads them in the reader's language (SPEC §6). Every action a service
records has its label in ACTIONS, every field in FIELDS (tests/support/test_audit_labels.py
checks the code); values that are keys (roles, statuses, how a session ended, …) are
translated per field, and numbers, money, dates, countries and languages are formatted for
the reader's locale.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import format_currency, format_datetime, format_decimal, get_locale
from flask_babel import lazy_gettext as _l

ACTIONS = {
    "organization.created": _l("Organization created"),
    "organization.updated": _l("Organization edited"),
    "organization.suspended": _l("Organization suspended"),
    "organization.reactivated": _l("Organization reactivated"),
    "organization.deleted": _l("Organization deleted"),
    "organization.ownership_transferred": _l("Ownership transferred"),
    "ownership_transfer.requested": _l("Ownership transfer requested"),
    "ownership_transfer.accepted": _l("Ownership transfer accepted"),
    "ownership_transfer.declined": _l("Ownership transfer declined"),
    "ownership_transfer.cancelled": _l("Ownership transfer cancelled"),
    "ownership_transfer.expired": _l("Ownership transfer expired"),
    "member.added": _l("Member added"),
    "member.readded": _l("Member added again"),
    "member.updated": _l("Member edited"),
    "member.removed": _l("Member removed"),
    "member.invitation_sent": _l("Invitation sent"),
    "member.invitation_revoked": _l("Invitation revoked"),
    "api_key.created": _l("API key created"),
    "api_key.revoked": _l("API key revoked"),
    "user.profile_updated": _l("Profile edited"),
    "user.password_changed": _l("Password changed"),
    "user.two_factor_enabled": _l("Two-factor authentication turned on"),
    "user.two_factor_disabled": _l("Two-factor authentication turned off"),
    "user.recovery_code_used": _l("Recovery code used"),
    "user.recovery_codes_renewed": _l("New recovery codes made"),
    "support_session.started": _l("Support session started"),
    "support_session.ended": _l("Support session ended"),
    "reseller.settings_updated": _l("Reseller settings changed"),
    "reseller.seller_changed": _l("Seller details changed"),
    "platform.settings_updated": _l("Platform settings changed"),
    "payment_method.saved": _l("Card saved for automatic top-ups"),
    "payment_method.removed": _l("Saved card removed"),
    "purchase.expired": _l("Unpaid purchase expired"),
    "purchase.paid": _l("Credits bought"),
    "purchase.declined": _l("Card payment declined"),
    "credits.transferred": _l("Credits transferred"),
    "credits.withdrawn": _l("Credits withdrawn"),
    "auto_top_up.failed": _l("Automatic top-up failed"),
    "payment.recorded": _l("Payment recorded"),
    "reseller.created": _l("Reseller created"),
    "reseller.suspended": _l("Reseller suspended"),
    "reseller.reactivated": _l("Reseller reactivated"),
    "reseller.staff_added": _l("Staff member added"),
    "reseller.staff_role_changed": _l("Staff member's role changed"),
    "reseller.staff_removed": _l("Staff member removed"),
    "reseller.price_list_changed": _l("Price list changed"),
    "reseller.tax_rates_changed": _l("Tax rates changed"),
    "platform.staff_added": _l("Platform staff member added"),
    "platform.staff_role_changed": _l("Platform staff member's role changed"),
    "platform.staff_removed": _l("Platform staff member removed"),
    "invoice.final_issued": _l("Final invoice issued"),
    "payment.voided": _l("Payment voided"),
    "change_request.submitted": _l("Change requested"),
    "change_request.approved": _l("Change request approved"),
    "change_request.declined": _l("Change request declined"),
    "contact_list.created": _l("Contact list created"),
    "contact_list.renamed": _l("Contact list renamed"),
    "contact_list.deleted": _l("Contact list deleted"),
    "contact.added": _l("Contact added"),
    "contact.updated": _l("Contact edited"),
    "contact.removed": _l("Contact removed"),
    "contacts.imported": _l("Contacts imported"),
    "opt_out.added": _l("Number added to the opt-out list"),
    "opt_out.removed": _l("Number removed from the opt-out list"),
    "opt_outs.imported": _l("Opt-out list imported"),
    "campaign.scheduled": _l("Campaign scheduled"),
    "campaign.changed": _l("Campaign changed"),
    "campaign.cancelled": _l("Campaign cancelled"),
    "campaign.approved": _l("Campaign approved"),
    "campaign.rejected": _l("Campaign rejected"),
    "wholesale.lot_added": _l("Wholesale credits added"),
    "wholesale.threshold_changed": _l("Low wholesale pool alert changed"),
    "wholesale.margin_rate_changed": _l("Margin report rate changed"),
}

FIELDS = {
    "name": _l("Name"),
    "country": _l("Country"),
    "currency": _l("Currency"),
    "timezone": _l("Timezone"),
    "pricing_model": _l("Pricing model"),
    "status": _l("Status"),
    "owner": _l("Owner"),
    "email": _l("Email"),
    "mobile": _l("Mobile"),
    "company": _l("Company"),
    "language": _l("Language"),
    "role": _l("Role"),
    "portal_access": _l("Portal access"),
    "suspension_reason": _l("Suspension reason"),
    "suspended_at": _l("Suspended at"),
    "deleted_at": _l("Deleted at"),
    "billing.type": _l("Billing type"),
    "billing.name": _l("Billing name"),
    "billing.address": _l("Address"),
    "billing.tax_id": _l("Tax identification number"),
    "billing.email": _l("Billing email"),
    "billing.iban": _l("Bank account (IBAN)"),
    "legal_name": _l("Legal name"),
    "address": _l("Address"),
    "tax_id": _l("Tax identification number"),
    "settings.sender_name": _l("Sender name"),
    "settings.notification_email": _l("Notification email"),
    "settings.notification_mobile": _l("Notification mobile"),
    "settings.low_balance_alert": _l("Low balance alert"),
    "settings.low_balance_threshold": _l("Low balance amount (credits)"),
    "settings.forecast_alert_days": _l("Forecast alert (days before running out)"),
    "settings.alert_email": _l("Alert email"),
    "credit_limit": _l("Credit limit"),
    "individual_user_credits": _l("Individual user credits"),
    "credits_returned": _l("Credits returned to the system pool"),
    "auto_top_up.enabled": _l("Automatic top-up"),
    "auto_top_up.below": _l("Top up below (credits)"),
    "auto_top_up.credits": _l("Top-up quantity (credits)"),
    "auto_top_up.monthly_limit": _l("Automatic top-ups a month (at most)"),
    "reason": _l("Reason"),
    "failure": _l("Why it failed"),
    "amount": _l("Amount"),
    "debt": _l("Debt"),
    "invoices_paid": _l("Invoices paid"),
    "invoices_reopened": _l("Invoices open again"),
    "number": _l("Number"),
    "period": _l("Period"),
    "invoices": _l("Invoices"),
    "card": _l("Card"),
    "member": _l("Member"),
    "end_reason": _l("How it ended"),
    "mode": _l("Mode"),
    "notify_owner_on_support_session": _l(
        "Email the owner when a view-only support session starts"
    ),
    "require_staff_two_factor": _l("Two-factor authentication required for staff"),
    "old_owner_role": _l("Previous owner's role"),
    "new_owner_role": _l("New owner's role"),
    "credits": _l("Credits"),
    "from": _l("From"),
    "to": _l("To"),
    "account": _l("Account"),
    "close_out": _l("To close the organization"),
    "total": _l("Total"),
    "prefix": _l("Key prefix"),
    "revoked_at": _l("Revoked at"),
    "expires_at": _l("Expires"),
    "slug": _l("Slug"),
    "prices": _l("Price list"),
    "tax_rates": _l("Tax rates"),
    "kind": _l("Request"),
    "message": _l("Message"),
    "list": _l("Contact list"),
    "contacts": _l("Contacts"),
    "added": _l("Rows added"),
    "duplicates": _l("Duplicate rows"),
    "rejected": _l("Rows rejected"),
    "source": _l("Source"),
    "campaign": _l("Campaign"),
    "repeat": _l("Repeat"),
    "reserved_credits": _l("Credits reserved"),
    "list_id": _l("Contact list"),
    "text": _l("Message text"),
    "sender": _l("Sender"),
    "starts_at": _l("Starts"),
    "until": _l("Until"),
    "campaigns_need_approval": _l("Campaigns need approval"),
    "unit_cost": _l("Unit cost"),
    "opening_balance": _l("Opening balance"),
    "low_pool_threshold": _l("Low wholesale pool alert (credits)"),
    "rate": _l("Conversion rate"),
}

_ROLES = {
    "owner": _l("Owner"),
    "admin": _l("Admin"),
    "member": _l("Member"),
    "agent": _l("Agent"),
    "support": _l("Support agent"),
}
_ACCOUNTS = {"system": _l("System Credits")}

# Values that are keys, per field: an enum's value or a code.
FIELD_VALUES: dict[str, dict[str, Any]] = {
    "status": {
        "active": _l("Active"),
        "suspended": _l("Suspended"),
        "deleted": _l("Deleted"),
        "pending": _l("Waiting for payment"),
        "paid": _l("Paid"),
        "declined": _l("Declined"),
        "expired": _l("Expired"),
        "recorded": _l("Recorded"),
        "void": _l("Voided"),
    },
    "pricing_model": {"prepaid": _l("Prepaid"), "postpaid": _l("Postpaid")},
    "billing.type": {"company": _l("Company"), "individual": _l("Individual")},
    "role": _ROLES,
    "old_owner_role": _ROLES,
    "new_owner_role": _ROLES,
    "end_reason": {
        "returned": _l("Returned to their account"),
        "expired": _l("Time limit reached"),
        "logout": _l("Logged out"),
        "revoked": _l("Ended: access changed"),
    },
    "mode": {"view": _l("View only"), "change": _l("Make changes")},
    "failure": {
        "declined": _l("The saved card was declined."),
        "cap_reached": _l("The monthly limit of automatic top-ups was reached."),
        "no_saved_card": _l("No card is saved for automatic top-ups."),
        "price_not_set": _l("No credit price is set for the organization's currency."),
        "not_available": _l("The organization cannot buy credits at the moment."),
    },
    "from": _ACCOUNTS,
    "to": _ACCOUNTS,
    "account": _ACCOUNTS,
    "kind": {"individual_credits": _l("Individual user credits")},
    "source": {
        "manual": _l("Added by hand"),
        "import": _l("Imported"),
        "stop_reply": _l("STOP reply"),
    },
}

# Entries written before values were keyed per field (and callers that give no field).
VALUES = {
    True: _l("Yes"),
    False: _l("No"),
    **FIELD_VALUES["status"],
    **FIELD_VALUES["pricing_model"],
    **FIELD_VALUES["billing.type"],
    **_ROLES,
}

MONEY_FIELDS = frozenset({"total", "amount", "debt", "credit_limit"})
MOMENT_FIELDS = frozenset({"suspended_at", "deleted_at", "revoked_at", "expires_at"})


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def field_label(name: str) -> str:
    return str(FIELDS.get(name, name))


def _money(value: Any, currency: str | None) -> str | None:
    if isinstance(value, dict) and {"amount", "currency"} <= value.keys():
        value, currency = value["amount"], value["currency"]
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return format_currency(amount, currency) if currency else format_decimal(amount)


def _moment(value: Any) -> str | None:
    try:
        return format_datetime(datetime.fromisoformat(str(value)), "medium")
    except ValueError:
        return None


def _place(value: str, field: str | None) -> str | None:
    if field == "country":
        return get_locale().territories.get(value)
    if field == "language":
        return get_locale().languages.get(value)
    return None


def value_label(value: Any, field: str | None = None, currency: str | None = None) -> str:
    """One value of an audit entry as the reader reads it (``currency``: the organization's,
    for money recorded without one)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return str(VALUES[value])
    if isinstance(value, list):
        return ", ".join(value_label(item, field, currency) for item in value) or "—"
    if field in MONEY_FIELDS or isinstance(value, dict):
        shown = _money(value, currency)
        if shown is not None:
            return shown
    if isinstance(value, int | Decimal):
        return format_decimal(value)
    if field in MOMENT_FIELDS:
        return _moment(value) or str(value)
    if isinstance(value, str):
        keys = FIELD_VALUES.get(field) if field is not None else VALUES
        if keys and value in keys:
            return str(keys[value])
        return _place(value, field) or value
    return str(value)
