"""Errors of the domain: raised by services, mapped once to flash messages and JSON errors."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l


class DomainError(Exception):
    """A refusal a person can read; ``code`` is the stable API error code."""

    code = "error"
    status = 400
    default_message = _l("The request could not be completed.")

    def __init__(self, message=None, *, fields: dict | None = None, **params):
        self.message = message if message is not None else self.default_message
        self.fields = fields or {}
        self.params = params
        super().__init__(str(self.code))

    def __str__(self) -> str:
        return str(self.message)


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = _l("Not found.")


class Forbidden(DomainError):
    code = "forbidden"
    status = 403
    default_message = _l("You are not allowed to do this.")


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422
    default_message = _l("Some fields are not valid.")


class Conflict(DomainError):
    code = "conflict"
    status = 409
    default_message = _l("This cannot be done in the current state.")


class LoginRefused(DomainError):
    code = "login_refused"
    status = 401
    default_message = _l("Invalid email or password.")


class AccessRefused(DomainError):
    code = "access_refused"
    status = 403
    default_message = _l("Your account has no access to the portal.")


class LoginThrottled(DomainError):
    code = "rate_limited"
    status = 429
    default_message = _l("Too many failed attempts. Please wait a few minutes and try again.")


class InvalidToken(DomainError):
    code = "invalid_token"
    status = 400
    default_message = _l("This link is invalid, has expired or has already been used.")


class ReauthenticationRequired(DomainError):
    code = "reauthentication_required"
    status = 401
    default_message = _l(
        "For your customer's safety, confirm it is you before acting as one of their members."
    )


class AlreadyActing(Forbidden):
    code = "already_acting"
    default_message = _l(
        "You are already acting as someone. Return to your account before starting another "
        "support session."
    )


class ViewOnlySession(Forbidden):
    code = "view_only_session"
    default_message = _l("This support session is view only: nothing can be changed.")


class StaffTarget(Forbidden):
    code = "staff_target"
    default_message = _l(
        "This person is platform or reseller staff: staff accounts are never used in a "
        "support session."
    )


class StaffEmail(ValidationFailed):
    """A staff person's email given as a customer member's (SPEC §2: different people)."""

    code = "staff_email"
    default_message = _l(
        "This email belongs to platform or reseller staff and cannot be a customer member."
    )

    def __init__(self, message=None, *, field: str = "email", **params):
        message = message if message is not None else self.default_message
        super().__init__(message, fields={field: str(message)}, **params)


class CustomerEmail(ValidationFailed):
    """A customer member's email given as staff (SPEC §2: different people)."""

    code = "customer_email"
    default_message = _l("This email belongs to a customer's member and cannot be staff.")

    def __init__(self, message=None, *, field: str = "email", **params):
        message = message if message is not None else self.default_message
        super().__init__(message, fields={field: str(message)}, **params)


class InvalidApiKey(DomainError):
    code = "invalid_api_key"
    status = 401
    default_message = _l("Missing, unknown or revoked API key.")


class ResellerKeySuspended(Forbidden):
    code = "reseller_suspended"
    default_message = _l("The reseller is suspended: its API keys are refused.")


class OrganizationKeySuspended(Forbidden):
    code = "organization_suspended"
    default_message = _l("The organization is suspended: its API keys are refused.")


class BalanceNotZero(Conflict):
    code = "balance_not_zero"
    default_message = _l("The organization still holds credits. Withdraw them before deleting it.")


class OutstandingDebt(Conflict):
    code = "outstanding_debt"
    default_message = _l("The organization still owes money. Clear the debt before deleting it.")


class OwnerCannotBeRemoved(Conflict):
    code = "owner_cannot_be_removed"
    default_message = _l("The owner cannot be removed. Transfer the ownership first.")


class OrganizationSuspended(Conflict):
    code = "organization_suspended"
    default_message = _l("The organization is suspended.")


class CreditsReserved(Conflict):
    code = "credits_reserved"
    default_message = _l(
        "Scheduled campaigns hold credits reserved on this account: cancel them first."
    )


class InsufficientCredits(DomainError):
    code = "insufficient_credits"
    status = 402
    default_message = _l("Insufficient credits.")


class ResellerCreditsExhausted(DomainError):
    """The reseller's wholesale pool cannot cover the credits (SPEC §4b): nothing applied."""

    code = "reseller_credits_exhausted"
    status = 402
    default_message = _l(
        "Your provider has run out of credits to sell. Try again later or contact your provider."
    )


class NotPrepaid(Conflict):
    code = "not_prepaid"
    default_message = _l("This organization is postpaid: it has no credits.")


class NotPostpaid(Conflict):
    code = "not_postpaid"
    default_message = _l("This organization is prepaid: it has no postpaid account.")


class PaymentAlreadyVoid(Conflict):
    code = "payment_already_void"
    default_message = _l("This payment is already void.")


class PeriodInvoiced(Conflict):
    code = "period_invoiced"
    default_message = _l(
        "This usage happened in a month that is already invoiced; it can no longer be charged."
    )


class PeriodNotEnded(Conflict):
    code = "period_not_ended"
    default_message = _l("This month has not ended yet; it can be invoiced once it is over.")


class OrganizationActive(Conflict):
    code = "organization_active"
    default_message = _l(
        "Suspend the organization first: the final invoice is issued once nothing more can "
        "be charged."
    )


class NothingToInvoice(Conflict):
    code = "nothing_to_invoice"
    default_message = _l("There is no unbilled usage to invoice.")


class LastAdminRequired(Conflict):
    code = "last_admin"
    default_message = _l("There must always be at least one administrator. Add another first.")


class CannotRemoveYourself(Conflict):
    code = "cannot_remove_yourself"
    default_message = _l("You cannot remove yourself. Ask another administrator.")


class ResellerSuspended(Conflict):
    code = "reseller_suspended"
    default_message = _l("The reseller is suspended.")


class MemberCreditsRemain(Conflict):
    """Individual user credits switched off while members hold some (the message says how
    many: tenants.credits.operations.close_member_accounts)."""

    code = "member_credits_remain"
    default_message = _l(
        "Members still hold individual credits. Transfer them to the system pool before "
        "switching individual user credits off."
    )


class AccountClosed(Conflict):
    """Credits sent to a member account that closed meanwhile (the member removed, or
    individual user credits switched off, while the movement waited for its locks)."""

    code = "account_closed"
    default_message = _l(
        "This credit account was closed meanwhile: its member was removed or individual user "
        "credits were switched off. Reload the page and try again."
    )


class CurrencyInUse(Conflict):
    """Removing a price-list currency that customers pay in: they could no longer buy
    credits or be charged for usage. The message names the organizations; ``summary`` says
    the same without the names, and ``organizations`` holds ``(id, name, currency)`` of up
    to 100 of them per currency, for a page to link."""

    code = "currency_in_use"
    default_message = _l(
        "Customers pay in this currency: change their currency before removing it from the "
        "price list."
    )

    def __init__(self, message=None, *, summary=None, organizations=(), **params):
        super().__init__(message, **params)
        self.summary = summary if summary is not None else self.message
        self.organizations = list(organizations)


class OrganizationClosed(Conflict):
    code = "organization_closed"
    default_message = _l("The organization is closed.")


class ServiceUnavailable(DomainError):
    """The database could not be reached (a restart, a lost connection, a locked SQLite
    file): nothing was changed by the request that got it, or all of it was, and the same
    request can be sent again in a moment (SPEC §7: 503 with ``Retry-After``)."""

    code = "service_unavailable"
    status = 503
    default_message = _l("The service is briefly unavailable. Try again in a moment.")
