"""Prepaid credits: the verbs that move them (buy, transfer, withdraw, charge usage).

Each checks what it is given, then writes one balanced transaction through
tenants.credits.ledger; none commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from tenants.access.actors import Actor
from tenants.access.policy import Permission, require, require_transfer_from
from tenants.audit import log as audit
from tenants.core.checks import collect_field_errors
from tenants.core.errors import (
    Conflict,
    MemberCreditsRemain,
    NotPrepaid,
    OrganizationClosed,
    OrganizationSuspended,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import utcnow
from tenants.core.validation import MAX_CREDITS, clean_credits, clean_text  # noqa: F401
from tenants.credits import references, reservations
from tenants.credits.ledger import (
    Posting,
    lock_balances,
    lock_organization,
    member_credits_total,
    parse_account,
    post_transaction,
)
from tenants.credits.ledger_many import Movement
from tenants.credits.movements import LATE_USAGE_DAYS, credits_phrase
from tenants.models import Member, Organization, OrganizationStatus, PricingModel
from tenants.models.ledger import (
    SYSTEM_ACCOUNT,
    USAGE_ACCOUNT,
    AccountKind,
    AccountRef,
    EntryType,
    LedgerEntry,
)

# The references of the transfers that empty member accounts when they close.
MEMBER_REMOVED = "member-removed"
INDIVIDUAL_CREDITS_OFF = "individual-credits-off"


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


def clean_occurred_at(value: datetime | None, now: datetime | None = None) -> datetime:
    """When a usage happened: ``value``, else now (``now``: a batch's one clock)."""
    now = now or utcnow()
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
    entry_type: EntryType = EntryType.USAGE,
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
            Posting(ref, -credits, entry_type),
            Posting(USAGE_ACCOUNT, credits, entry_type),
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
    """Move credits between the system pool and user accounts (both ways). A plain member
    moves only out of their own account, to another member's or to the pool (policy:
    may_transfer_from; 403 before anything else is read); the source's row lock and its
    ``balance >= 0`` keep it from going below zero (402)."""
    require(actor, Permission.TRANSFER_OWN_CREDITS)
    named = AccountRef.parse(source)
    if named is not None:
        require_transfer_from(actor, org.id, named)
    refs = collect_field_errors(
        {
            "credits": lambda: clean_credits(credits),
            "from": lambda: parse_account(org, source, "from"),
            "to": lambda: parse_account(org, target, "to"),
            "agree": lambda: _agreed(agreed),
        }
    )
    credits = refs["credits"]
    require_transfer_from(actor, org.id, refs["from"])
    if refs["from"] == refs["to"]:
        raise ValidationFailed(fields={"to": str(_l("Choose a different account."))})
    require_prepaid_and_usable(org)
    entries = post_transaction(
        actor,
        org,
        [
            Posting(refs["from"], -credits, EntryType.TRANSFER_OUT),
            Posting(refs["to"], credits, EntryType.TRANSFER_IN),
        ],
    )
    audit.record_on(
        actor,
        org,
        "credits.transferred",
        {
            "credits": [None, credits],
            "from": [None, _account_value(refs["from"])],
            "to": [None, _account_value(refs["to"])],
        },
    )
    return entries


def withdraw_credits(
    actor: Actor,
    org: Organization,
    account,
    credits: int,
    *,
    reason: str,
    close_out: bool = False,
) -> LedgerEntry:
    """Take credits back out of an account (reseller staff), e.g. before deletion.

    A close-out withdrawal -- ``close_out`` (the delete page's Withdraw, the API's flag) or
    any withdrawal from a suspended organization -- sends no low-balance alert: the
    organization is being closed, not running low."""
    require(actor, Permission.WITHDRAW_CREDITS)
    credits = clean_credits(credits)
    reason = clean_text(reason, "reason", max_length=200)
    ref = parse_account(org, account)
    if org.status == OrganizationStatus.DELETED:
        raise OrganizationClosed()
    close_out = bool(close_out) or org.status == OrganizationStatus.SUSPENDED
    entries = post_transaction(
        actor,
        org,
        [
            Posting(ref, -credits, EntryType.WITHDRAWAL),
            Posting(AccountRef(AccountKind.WITHDRAWALS), credits, EntryType.WITHDRAWAL),
        ],
        reference=reason,
        alert=not close_out,
    )
    changes = {
        "credits": [None, credits],
        "account": [None, _account_value(ref)],
        "reason": [None, reason],
    }
    if close_out:
        changes["close_out"] = [None, True]
    audit.record_on(actor, org, "credits.withdrawn", changes)
    return entries[0]


def _account_value(ref: AccountRef) -> str:
    """An account as the audit log keeps it: the key ``system``, or the member's email."""
    if ref.kind != AccountKind.MEMBER:
        return ref.label
    return db.session.get(Member, ref.member_id).user.email


# -- member accounts closing ----------------------------------------------------------------


def _return_to_pool(
    actor: Actor, org: Organization, held: dict[AccountRef, int], reference: str
) -> int:
    """Move each member account's credits (locked: ledger.lock_balances) to the system
    pool, a transfer pair each; returns the credits moved."""
    moved = 0
    reservations.refuse_while_reserved(org, [ref for ref in held if ref.kind == AccountKind.MEMBER])
    for ref, credits in sorted(held.items(), key=lambda item: item[0].member_id):
        if ref.kind != AccountKind.MEMBER or credits <= 0:
            continue
        post_transaction(
            actor,
            org,
            [
                Posting(ref, -credits, EntryType.TRANSFER_OUT),
                Posting(SYSTEM_ACCOUNT, credits, EntryType.TRANSFER_IN),
            ],
            reference=reference,
        )
        moved += credits
    return moved


def return_member_credits(actor: Actor, org: Organization, member_id: str) -> int:
    """A member is leaving: their individual credits go back to the system pool (reference
    ``member-removed``); returns how many. The caller marks the member removed in the same
    transaction.

    Under their account's lock: a transfer or a usage under way on it either lands first
    (and its credits go back too) or waits, then finds the member removed (AccountClosed).
    """
    ref = AccountRef(AccountKind.MEMBER, member_id)
    held = lock_balances(org, [SYSTEM_ACCOUNT, ref])
    return _return_to_pool(actor, org, {ref: held[ref]}, MEMBER_REMOVED)


def _member_credits_remain(credits: int) -> MemberCreditsRemain:
    """The refusal to switch individual credits off, saying how many credits members hold."""
    message = _l(
        "Members still hold %(credits)s in their individual accounts. Move them to the system "
        "pool before switching individual user credits off, or move them all and switch off "
        "in one step.",
        credits=credits_phrase(credits),
    )
    return MemberCreditsRemain(
        message, fields={"individual_user_credits": str(message)}, credits=credits
    )


def close_member_accounts(actor: Actor, org: Organization, *, move: bool = False) -> int:
    """Before individual credits are switched off: refused while members hold credits
    (MemberCreditsRemain, saying how many), or with ``move`` every member account's
    credits go back to the system pool (reference ``individual-credits-off``), removed
    members' included. Returns the credits moved; the caller switches off in the same
    transaction.

    Locks every holding account, then the organization's row: a movement into a member
    account under way either lands first (and is counted) or waits, then finds individual
    credits off (AccountClosed).
    """
    held = lock_balances(org)
    lock_organization(org)
    total = member_credits_total(org)
    if total == 0:
        return 0
    if not move:
        raise _member_credits_remain(total)
    if total != sum(n for ref, n in held.items() if ref.kind == AccountKind.MEMBER):
        # A member account opened between the two locks: it is not locked, try again.
        raise Conflict(_l("The credits changed meanwhile. Try again."))
    return _return_to_pool(actor, org, held, INDIVIDUAL_CREDITS_OFF)


def usage_movement(
    actor: Actor,
    org: Organization,
    *,
    credits: int,
    reference: str,
    claim: references.Claim,
    account=None,
    occurred_at: datetime | None = None,
    accounts: dict | None = None,
    now: datetime | None = None,
) -> Movement:
    """A usage of a batch, checked as record_usage checks it (in its order) once its
    reference is claimed for the first time, as the movement to post with
    ledger_many.post_many; raises the refusal. ``accounts``: the batch's resolved accounts
    (organization, ``account`` value) → AccountRef or the refusal, so a batch naming one
    member account a thousand times asks the database once. ``now``: the batch's clock, the
    moment of its events that name none."""
    credits = clean_credits(credits)
    occurred = clean_occurred_at(occurred_at, now)
    require_prepaid_and_usable(org)
    key = (org.id, account)
    if accounts is not None and key in accounts:
        ref = accounts[key]
    else:
        try:
            ref = usage_account(actor, org, account)
        except ValidationFailed as error:
            ref = error
        if accounts is not None:
            accounts[key] = ref
    if isinstance(ref, ValidationFailed):
        raise ref
    if ref.kind == AccountKind.MEMBER and ref.member_id != actor.member_id:
        require(actor, Permission.MANAGE_CREDITS)
    return Movement(
        org,
        [
            Posting(ref, -credits, EntryType.USAGE),
            Posting(USAGE_ACCOUNT, credits, EntryType.USAGE),
        ],
        reference=reference,
        occurred_at=occurred,
        entry_id=claim.entry_id,
    )
