"""Readable, translated words for audit actions and the fields they change."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ACTIONS = {
    "organization.created": _l("Organization created"),
    "organization.updated": _l("Organization edited"),
    "organization.suspended": _l("Organization suspended"),
    "organization.reactivated": _l("Organization reactivated"),
    "organization.deleted": _l("Organization deleted"),
    "organization.ownership_transferred": _l("Ownership transferred"),
    "member.added": _l("Member added"),
    "member.readded": _l("Member added again"),
    "member.updated": _l("Member edited"),
    "member.removed": _l("Member removed"),
    "member.invitation_sent": _l("Invitation sent"),
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
    "platform.settings_updated": _l("Platform settings changed"),
    "payment_method.saved": _l("Card saved for automatic top-ups"),
    "payment_method.removed": _l("Saved card removed"),
    "purchase.expired": _l("Unpaid purchase expired"),
    "payment.recorded": _l("Payment recorded"),
    "payment.voided": _l("Payment voided"),
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
    "settings.sender_name": _l("Sender name"),
    "settings.notification_email": _l("Notification email"),
    "settings.notification_mobile": _l("Notification mobile"),
    "settings.low_balance_alert": _l("Low balance alert"),
    "settings.low_balance_threshold": _l("Low balance amount (credits)"),
    "settings.alert_email": _l("Alert email"),
    "credit_limit": _l("Credit limit"),
    "individual_user_credits": _l("Individual user credits"),
    "auto_top_up.enabled": _l("Automatic top-up"),
    "auto_top_up.below": _l("Top up below (credits)"),
    "auto_top_up.credits": _l("Top-up quantity (credits)"),
    "reason": _l("Reason"),
    "amount": _l("Amount"),
    "debt": _l("Debt"),
    "invoices_paid": _l("Invoices paid"),
    "invoices_reopened": _l("Invoices open again"),
    "card": _l("Card"),
    "member": _l("Member"),
    "end_reason": _l("How it ended"),
    "notify_owner_on_support_session": _l("Email the owner when a support session starts"),
    "require_staff_two_factor": _l("Two-factor authentication required for staff"),
}

VALUES = {
    True: _l("Yes"),
    False: _l("No"),
    "active": _l("Active"),
    "suspended": _l("Suspended"),
    "deleted": _l("Deleted"),
    "prepaid": _l("Prepaid"),
    "postpaid": _l("Postpaid"),
    "company": _l("Company"),
    "individual": _l("Individual"),
    "owner": _l("Owner"),
    "admin": _l("Admin"),
    "member": _l("Member"),
    "pending": _l("Waiting for payment"),
    "expired": _l("Expired"),
    "recorded": _l("Recorded"),
    "void": _l("Voided"),
}


def action_label(action: str) -> str:
    return str(ACTIONS.get(action, action))


def field_label(name: str) -> str:
    return str(FIELDS.get(name, name))


def value_label(value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(value_label(item) for item in value)
    if isinstance(value, bool | str) and value in VALUES:
        return str(VALUES[value])
    return str(value)
