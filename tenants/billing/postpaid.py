"""Postpaid accounts: usage charges under a credit limit, and what an organization owes.

Money a postpaid organization owes lives in one row per organization (PostpaidAccount),
changed only by conditional UPDATEs in the same transaction as the rows they summarize:

* usage adds its charge and its tax with ``UPDATE … WHERE debt + charge + tax <=
  credit_limit AND the
  event's time is after the last invoiced period`` — the row lock serializes concurrent
  usage of one organization, the WHERE refuses what would pass the limit or land in an
  invoiced month;
* a monthly invoice (tenants.billing.monthly_batch) moves its charges from ``unbilled`` to
  ``invoiced_unpaid`` and closes the period (``closed_until``) under the same lock, so a
  late event either lands before the invoice (and is on it) or is refused;
* a payment (tenants.billing.payments) settles open invoices oldest first; beyond them it
  is kept as ``paid_ahead`` and settles the next invoices (the reseller can clear this
  month's debt before deleting an organization).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tenants.access.actors import Actor
from tenants.core.bulk import dialect_insert
from tenants.core.errors import (
    InsufficientCredits,
    NotPostpaid,
    OrganizationClosed,
    PeriodInvoiced,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import MONEY_SCALE, utcnow
from tenants.credits import forecast, forecast_days, ledger, references
from tenants.credits import operations as credit_ops
from tenants.credits.ledger import Posting
from tenants.credits.purchases import PriceNotSet
from tenants.models import (
    AccountKind,
    Charge,
    EntryType,
    Organization,
    OrganizationStatus,
    PostpaidAccount,
    PricingModel,
)
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountRef, LedgerEntry
from tenants.resellers import pricing


def _price_not_set():
    return PriceNotSet()


def ensure_account(org: Organization) -> None:
    """Create the organization's postpaid row on first use (race-safe)."""
    ensure_accounts([org])


def ensure_accounts(orgs: list[Organization]) -> None:
    """Create the postpaid rows of organizations that have none, in one INSERT (race-safe:
    ON CONFLICT DO NOTHING; rows in id order, so concurrent callers never deadlock)."""
    now = utcnow()
    rows = [
        {
            "organization_id": org.id,
            "reseller_id": org.reseller_id,
            "unbilled": Decimal(0),
            "unbilled_tax": Decimal(0),
            "unbilled_credits": 0,
            "invoiced_unpaid": Decimal(0),
            "paid_ahead": Decimal(0),
            "closed_period": "",
            "updated_at": now,
        }
        for org in sorted(orgs, key=lambda org: org.id)
    ]
    db.session.execute(
        dialect_insert(PostpaidAccount.__table__)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["organization_id"])
    )


def _lock_account(organization_id: str) -> PostpaidAccount | None:
    return db.session.scalar(
        select(PostpaidAccount)
        .where(PostpaidAccount.organization_id == organization_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _debt_expression():
    return (
        PostpaidAccount.unbilled
        + PostpaidAccount.unbilled_tax
        + PostpaidAccount.invoiced_unpaid
        - PostpaidAccount.paid_ahead
    )


def _store_debt(org: Organization, debt: Decimal) -> None:
    """Keep the Customer app's Organization.debt equal to the account, same transaction."""
    db.session.execute(
        update(Organization)
        .where(Organization.id == org.id)
        .values(debt=debt)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(org, "debt", debt)


def account_of(org: Organization) -> PostpaidAccount | None:
    return db.session.get(PostpaidAccount, org.id)


def organization_debt(org: Organization) -> Decimal:
    """Unbilled charges and their tax plus unpaid invoices, less what was paid ahead."""
    debt = db.session.scalar(
        select(_debt_expression()).where(PostpaidAccount.organization_id == org.id)
    )
    return debt if debt is not None else Decimal("0")


def charge_for(org: Organization, credits: int) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """What ``credits`` of usage charge the organization now: the unit price (its currency's
    postpaid price; PriceNotSet, 409, without one), the tax percent, the amount and its tax
    (rounded once, as a charge's is)."""
    unit = pricing.unit_price(org.reseller_id, org.currency, PricingModel.POSTPAID)
    if unit is None:
        raise _price_not_set()
    amount = unit * credits
    tax_percent = pricing.tax_percent(org.reseller_id, org.country)
    tax = (amount * tax_percent / 100).quantize(MONEY_SCALE, rounding=ROUND_HALF_UP)
    return unit, tax_percent, amount, tax


def room_under_limit(org: Organization) -> Decimal:
    """What the organization may still accrue before its credit limit (never below 0), its
    postpaid row locked like usage locks it: callers that check a charge against it before
    scheduling one are serialized with the usage that takes from it."""
    ensure_account(org)
    _lock_account(org.id)
    limit = db.session.scalar(select(Organization.credit_limit).where(Organization.id == org.id))
    room = (limit or Decimal(0)) - organization_debt(org)
    return max(room, Decimal(0))


def _usage_member(actor: Actor, org: Organization, account) -> str | None:
    """Whose usage it is: the member named (one of the organization's now), or for the
    system pool the acting member (None for staff and keys)."""
    ref = AccountRef.parse(account)
    if ref is not None and ref.kind == AccountKind.SYSTEM:
        return actor.member_id if actor.organization_id == org.id else None
    if ref is not None and ledger.is_current_member(org, ref.member_id):
        return ref.member_id
    raise ValidationFailed(fields={"account": str(_l("Unknown account."))})


def _accrue(
    org: Organization, amount: Decimal, tax: Decimal, credits_used: int, occurred: datetime
) -> Decimal:
    """Add the charge and its tax to the account row under its limit, in one conditional
    UPDATE: the new debt; PeriodInvoiced or InsufficientCredits (402)
    when refused."""
    ensure_account(org)
    limit = select(Organization.credit_limit).where(Organization.id == org.id).scalar_subquery()
    row = db.session.execute(
        update(PostpaidAccount)
        .where(
            PostpaidAccount.organization_id == org.id,
            or_(PostpaidAccount.closed_until.is_(None), PostpaidAccount.closed_until <= occurred),
            _debt_expression() + amount + tax <= limit,
        )
        .values(
            unbilled=PostpaidAccount.unbilled + amount,
            unbilled_tax=PostpaidAccount.unbilled_tax + tax,
            unbilled_credits=PostpaidAccount.unbilled_credits + credits_used,
            updated_at=utcnow(),
        )
        .returning(_debt_expression())
        .execution_options(synchronize_session=False)
    ).first()
    if row is None:
        closed = db.session.scalar(
            select(PostpaidAccount.closed_until).where(PostpaidAccount.organization_id == org.id)
        )
        if closed is not None and occurred < closed:
            raise PeriodInvoiced()
        raise InsufficientCredits(
            _l("The credit limit is reached. Pay the debt or ask for a higher limit.")
        )
    return row[0]


def record_postpaid_usage(
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
    """Accrue a charge for sent SMS; refused whole past the credit limit (402). A reference
    charged before charges nothing and answers with its first entry (as prepaid usage does,
    tenants.credits.operations.record_usage; ``claim`` likewise)."""
    credits = credit_ops.clean_credits(credits)
    reference = references.clean_reference(reference)
    if claim is None:
        claim = references.claim(org, reference)
    if not claim.first:
        return references.repeat(claim)
    occurred = credit_ops.clean_occurred_at(occurred_at)
    credit_ops.require_usable(org)
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()
    member_id = _usage_member(actor, org, account)
    unit, tax_percent, amount, tax = charge_for(org, credits)
    debt = _accrue(org, amount, tax, credits, occurred)
    moved = db.session.execute(
        update(Organization)
        .where(Organization.id == org.id, Organization.status == OrganizationStatus.ACTIVE)
        .values(debt=debt)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not moved:  # deleted or suspended since it was read: the whole transaction is undone
        raise OrganizationClosed()
    set_committed_value(org, "debt", debt)
    db.session.add(
        Charge(
            reseller_id=org.reseller_id,
            organization_id=org.id,
            member_id=member_id,
            credits=credits,
            unit_price=unit,
            amount=amount,
            tax_percent=tax_percent,
            tax=tax,
            currency=org.currency,
            reference=reference,
            occurred_at=occurred,
        )
    )
    entries = credit_ops.post_transaction(
        actor,
        org,
        [
            Posting(SYSTEM_ACCOUNT, -credits, entry_type),
            Posting(AccountRef(AccountKind.USAGE), credits, entry_type),
        ],
        amount=amount,
        reference=reference,
        occurred_at=occurred,
        postpaid=True,
        entry_id=claim.entry_id,
    )
    forecast.count_usage(
        org, [forecast_days.Used(occurred, credits, amount + tax)], moved=amount + tax
    )
    return references.Recorded(entries[0])


def refund_postpaid_usage(
    actor: Actor, org: Organization, *, credits: int, reference: str
) -> LedgerEntry:
    """Give back ``credits`` of the usage charged under ``reference`` (a failed message): a
    negative charge at that charge's unit price and tax rate, taken off the unbilled debt in
    the same conditional way usage adds to it, and one ``refund`` entry. Whoever calls it
    makes sure it happens once (tenants.messaging.reports)."""
    charge = db.session.scalar(
        select(Charge)
        .where(Charge.organization_id == org.id, Charge.reference == reference)
        .order_by(Charge.created_at)
        .limit(1)
    )
    if charge is None:
        raise ValueError(f"no postpaid charge {reference} to refund")
    amount = charge.unit_price * credits
    tax = (amount * charge.tax_percent / 100).quantize(MONEY_SCALE, rounding=ROUND_HALF_UP)
    ensure_account(org)
    debt = db.session.execute(
        update(PostpaidAccount)
        .where(PostpaidAccount.organization_id == org.id)
        .values(
            unbilled=PostpaidAccount.unbilled - amount,
            unbilled_tax=PostpaidAccount.unbilled_tax - tax,
            unbilled_credits=PostpaidAccount.unbilled_credits - credits,
            updated_at=utcnow(),
        )
        .returning(_debt_expression())
        .execution_options(synchronize_session=False)
    ).scalar_one()
    _store_debt(org, debt)
    now = utcnow()
    db.session.add(
        Charge(
            reseller_id=org.reseller_id,
            organization_id=org.id,
            member_id=charge.member_id,
            credits=-credits,
            unit_price=charge.unit_price,
            amount=-amount,
            tax_percent=charge.tax_percent,
            tax=-tax,
            currency=charge.currency,
            reference=reference,
            occurred_at=now,
        )
    )
    entries = credit_ops.post_transaction(
        actor,
        org,
        [
            Posting(SYSTEM_ACCOUNT, credits, EntryType.REFUND),
            Posting(AccountRef(AccountKind.USAGE), -credits, EntryType.REFUND),
        ],
        amount=-amount,
        reference=reference,
        occurred_at=now,
        postpaid=True,
    )
    given_back = -(amount + tax)
    forecast.count_usage(org, [forecast_days.Used(now, -credits, given_back)], moved=given_back)
    return entries[0]
