"""Prepaid credits: the verbs that move them (buy, transfer, withdraw, charge usage).

Each checks what it is given, then writes one balanced transaction through
tenants.credits.ledger; none commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require
from tenants.core.checks import collect_field_errors
from tenants.core.errors import (
    NotPrepaid,
    OrganizationClosed,
    OrganizationSuspended,
    ValidationFailed,
)
from tenants.core.types import utcnow
from tenants.core.validation import clean_text
from tenants.credits import references
from tenants.credits.ledger import Posting, parse_account, post_transaction
from tenants.models import Organization, OrganizationStatus, PricingModel
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountKind, AccountRef, EntryType, LedgerEntry

MAX_CREDITS = 10**9
LATE_USAGE_DAYS = 35


def clean_credits(value, field: str = "credits") -> int:
    """A whole, positive number of credits (booleans and floats refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(fields={field: str(_l("Enter a whole number of credits."))})
    if value <= 0:
        raise ValidationFailed(fields={field: str(_l("Enter a number greater than zero."))})
    if value > MAX_CREDITS:
        raise ValidationFailed(
            fields={field: str(_l("Enter at most %(n)s credits.", n=format_decimal(MAX_CREDITS)))}
        )
    return value


def require_usable(org: Organization) -> None:
    """An organization takes usage and moves credits only while active: a suspended or a
    deleted one refuses (409, each with its code), whatever its pricing model."""
    if org.status == OrganizationStatus.SUSPENDED:
        raise OrganizationSuspended()
    if org.status != OrganizationStatus.ACTIVE:
        raise OrganizationClosed()


def require_prepaid_and_usable(org: Organization) -> None:
    """Usable (require_usable) and prepaid: it holds credits."""
    require_usable(org)
    if org.pricing_model != PricingModel.PREPAID:
        raise NotPrepaid()


def add_credits(
    actor: Actor,
    org: Organization,
    ref: AccountRef,
    credits: int,
    *,
    entry_type: EntryType = EntryType.PURCHASE,
    amount: Decimal | None = None,
    reference: str | None = None,
) -> LedgerEntry:
    """Credits coming in from outside (a paid purchase, an automatic top-up, an adjustment)."""
    credits = clean_credits(credits)
    counter = (
        AccountKind.ADJUSTMENTS if entry_type == EntryType.ADJUSTMENT else AccountKind.PURCHASES
    )
    entries = post_transaction(
        actor,
        org,
        [Posting(ref, credits, entry_type), Posting(AccountRef(counter), -credits, entry_type)],
        amount=amount,
        reference=reference,
    )
    return entries[0]


def usage_account(actor: Actor, org: Organization, account) -> AccountRef:
    """Usage is charged to the member's own account when individual credits are on."""
    if account not in (None, ""):
        ref = parse_account(org, account)
    elif org.individual_user_credits and actor.member_id:
        ref = AccountRef(AccountKind.MEMBER, actor.member_id)
    elif org.individual_user_credits:
        raise ValidationFailed(fields={"account": str(_l("Choose the member account to charge."))})
    else:
        ref = SYSTEM_ACCOUNT
    if org.individual_user_credits and ref.kind == AccountKind.SYSTEM:
        raise ValidationFailed(
            fields={
                "account": str(_l("With individual user credits, usage is charged to a member."))
            }
        )
    return ref


def clean_occurred_at(value: datetime | None) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None:
        raise ValidationFailed(fields={"occurred_at": str(_l("Give a time zone (e.g. Z)."))})
    if value > now + timedelta(minutes=5):
        raise ValidationFailed(fields={"occurred_at": str(_l("Cannot be in the future."))})
    if value < now - timedelta(days=LATE_USAGE_DAYS):
        raise ValidationFailed(
            fields={"occurred_at": str(_l("Late usage is accepted up to 35 days."))}
        )
    return value


def record_usage(
    actor: Actor,
    org: Organization,
    *,
    credits: int,
    reference: str,
    account=None,
    occurred_at: datetime | None = None,
    claim: references.Claim | None = None,
) -> references.Recorded:
    """Charge sent SMS; refused whole (balance untouched) when credits are short.

    A reference charged before charges nothing and answers with its first entry, whatever
    else the repeat carries or the organization's state now. ``claim``: the reference's
    claim when the caller made it (a batch claims all its references at once).
    """
    credits = clean_credits(credits)
    reference = references.clean_reference(reference)
    if claim is None:
        claim = references.claim(org, reference)
    if not claim.first:
        return references.repeat(claim)
    occurred = clean_occurred_at(occurred_at)
    require_prepaid_and_usable(org)
    ref = usage_account(actor, org, account)
    if ref.kind == AccountKind.MEMBER and ref.member_id != actor.member_id:
        require(actor, Permission.MANAGE_CREDITS)
    entries = post_transaction(
        actor,
        org,
        [
            Posting(ref, -credits, EntryType.USAGE),
            Posting(AccountRef(AccountKind.USAGE), credits, EntryType.USAGE),
        ],
        reference=reference,
        occurred_at=occurred,
        entry_id=claim.entry_id,
    )
    return references.Recorded(entries[0])


def _agreed(agreed: bool) -> bool:
    if not agreed:
        raise ValidationFailed(fields={"agree": str(_l("Tick to agree to the conditions."))})
    return True


def transfer_credits(
    actor: Actor, org: Organization, source, target, credits: int, *, agreed: bool
) -> list[LedgerEntry]:
    """Move credits between the system pool and user accounts (both ways)."""
    require(actor, Permission.MANAGE_CREDITS)
    refs = collect_field_errors(
        {
            "credits": lambda: clean_credits(credits),
            "from": lambda: parse_account(org, source, "from"),
            "to": lambda: parse_account(org, target, "to"),
            "agree": lambda: _agreed(agreed),
        }
    )
    credits = refs["credits"]
    if refs["from"] == refs["to"]:
        raise ValidationFailed(fields={"to": str(_l("Choose a different account."))})
    require_prepaid_and_usable(org)
    return post_transaction(
        actor,
        org,
        [
            Posting(refs["from"], -credits, EntryType.TRANSFER_OUT),
            Posting(refs["to"], credits, EntryType.TRANSFER_IN),
        ],
    )


def withdraw_credits(
    actor: Actor, org: Organization, account, credits: int, *, reason: str
) -> LedgerEntry:
    """Take credits back out of an account (reseller staff), e.g. before deletion."""
    require(actor, Permission.WITHDRAW_CREDITS)
    credits = clean_credits(credits)
    reason = clean_text(reason, "reason", max_length=200)
    ref = parse_account(org, account)
    if org.status == OrganizationStatus.DELETED:
        raise OrganizationClosed()
    entries = post_transaction(
        actor,
        org,
        [
            Posting(ref, -credits, EntryType.WITHDRAWAL),
            Posting(AccountRef(AccountKind.WITHDRAWALS), credits, EntryType.WITHDRAWAL),
        ],
        reference=reason,
    )
    return entries[0]
