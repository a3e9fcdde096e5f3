"""A batch's postpaid usage, set-based (``POST /api/v1/usage``): each event checked and
priced as tenants.billing.postpaid.record_postpaid_usage does it, the credit limit walked in
memory per organization, the debts, account sums, charges and ledger postings written a
statement per organization or per batch. The rules (limit, invoiced period, debt) are those
of tenants.billing.postpaid, whose helpers this reuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from tenants.access.actors import Actor
from tenants.billing.postpaid import (
    _debt_expression,
    _price_not_set,
    _usage_member,
    ensure_accounts,
)
from tenants.core.bulk import one_of
from tenants.core.errors import (
    DomainError,
    InsufficientCredits,
    NotPostpaid,
    OrganizationClosed,
    PeriodInvoiced,
    ResellerCreditsExhausted,
    ValidationFailed,
)
from tenants.core.extensions import db
from tenants.core.types import MONEY_SCALE, new_ids, utcnow
from tenants.credits import forecast_days, forecast_many, ledger_many, references
from tenants.credits import operations as credit_ops
from tenants.credits.ledger import Posting
from tenants.models import (
    AccountKind,
    Charge,
    EntryType,
    Organization,
    OrganizationStatus,
    PostpaidAccount,
    PricingModel,
)
from tenants.models.ledger import SYSTEM_ACCOUNT, AccountRef
from tenants.resellers import pricing
from tenants.wholesale import operations as wholesale


@dataclass
class Accrual:
    """One postpaid usage of a batch, checked and priced, to accrue with ``accrue_many``."""

    org: Organization
    credits: int
    reference: str
    occurred: datetime
    member_id: str | None
    unit: Decimal
    tax_percent: Decimal
    amount: Decimal
    tax: Decimal
    entry_id: str


def usage_accrual(
    actor: Actor,
    org: Organization,
    *,
    credits: int,
    reference: str,
    claim: references.Claim,
    account=None,
    occurred_at: datetime | None = None,
    cache: dict | None = None,
    now: datetime | None = None,
) -> Accrual:
    """A postpaid usage of a batch, checked as record_postpaid_usage checks it (in its order)
    once its reference is claimed for the first time; raises the refusal. ``cache``: the
    batch's prices, tax rates and accounts already looked up; ``now``: the batch's clock."""
    cache = {} if cache is None else cache
    credits = credit_ops.clean_credits(credits)
    occurred = credit_ops.clean_occurred_at(occurred_at, now)
    credit_ops.require_usable(org)
    if org.pricing_model != PricingModel.POSTPAID:
        raise NotPostpaid()

    def once(key, look):
        if key not in cache:
            try:
                cache[key] = look()
            except ValidationFailed as error:
                cache[key] = error
        if isinstance(cache[key], ValidationFailed):
            raise cache[key]
        return cache[key]

    member_id = once(("member", org.id, account), lambda: _usage_member(actor, org, account))
    unit = once(
        ("unit", org.reseller_id, org.currency),
        lambda: pricing.unit_price(org.reseller_id, org.currency, PricingModel.POSTPAID),
    )
    if unit is None:
        raise _price_not_set()
    tax_percent = once(
        ("tax", org.reseller_id, org.country),
        lambda: pricing.tax_percent(org.reseller_id, org.country),
    )
    amount = unit * credits
    tax = (amount * tax_percent / 100).quantize(MONEY_SCALE, rounding=ROUND_HALF_UP)
    return Accrual(
        org, credits, reference, occurred, member_id, unit, tax_percent, amount, tax, claim.entry_id
    )


def accrue_many(actor: Actor, accruals: list[Accrual]) -> list[str | DomainError]:
    """Accrue a batch's postpaid usage set-based, each standing alone: the id of its ledger
    entry, or why it was refused (PeriodInvoiced, InsufficientCredits at the credit limit,
    OrganizationClosed) — as ``_accrue`` would have answered one by one, in the order given.

    The accounts' rows are locked (FOR UPDATE, in id order: the batch locked them first,
    tenants.billing.usage) and read with the limits; each organization's usage is walked in
    memory; then one UPDATE of the organizations' debts (only active ones: the others'
    usage is refused), one of the accounts, the charges in one INSERT and the ledger's
    postings by ledger_many.post_many(postpaid=True).
    """
    if not accruals:
        return []
    results, debts = _walk(accruals)
    return _write(actor, accruals, results, debts)


def _walk(accruals: list[Accrual]) -> tuple[list[str | DomainError], dict[str, Decimal]]:
    """Each organization's usage in order, in memory, under its locked account row: the
    refusal ``_accrue`` would answer or the entry id, and each organization's debt after."""
    org_ids = sorted({a.org.id for a in accruals})
    ensure_accounts([a.org for a in accruals])
    rows = db.session.execute(
        select(
            PostpaidAccount.organization_id,
            _debt_expression(),
            PostpaidAccount.closed_until,
            Organization.credit_limit,
        )
        .join(Organization, Organization.id == PostpaidAccount.organization_id)
        .where(one_of(PostpaidAccount.organization_id, org_ids))
        .order_by(PostpaidAccount.organization_id)
        .with_for_update(of=PostpaidAccount)
    ).all()
    state = {org_id: [debt, closed, limit] for org_id, debt, closed, limit in rows}
    # The resellers' wholesale pools, locked last (after the accounts: the ledger's order).
    pools = wholesale.lock_pools(a.org.reseller_id for a in accruals)
    results: list[str | DomainError] = []
    for accrual in accruals:
        debt, closed, limit = state[accrual.org.id]
        if closed is not None and accrual.occurred < closed:
            results.append(PeriodInvoiced())
        elif debt + accrual.amount + accrual.tax > limit:
            results.append(
                InsufficientCredits(
                    _l("The credit limit is reached. Pay the debt or ask for a higher limit.")
                )
            )
        elif pools[accrual.org.reseller_id] < accrual.credits:
            results.append(ResellerCreditsExhausted())
        else:
            state[accrual.org.id][0] = debt + accrual.amount + accrual.tax
            pools[accrual.org.reseller_id] -= accrual.credits
            results.append(accrual.entry_id)
    accepted = {a.org.id for a, r in zip(accruals, results, strict=True) if isinstance(r, str)}
    return results, {org_id: state[org_id][0] for org_id in accepted}


def _write(
    actor: Actor,
    accruals: list[Accrual],
    results: list[str | DomainError],
    debts: dict[str, Decimal],
) -> list[str | DomainError]:
    """The accepted usage's debts (active organizations only: the others' usage is refused
    now), account sums, charges and postings."""
    moved = set()
    for org_id, debt in sorted(debts.items()):
        if db.session.execute(
            update(Organization)
            .where(Organization.id == org_id, Organization.status == OrganizationStatus.ACTIVE)
            .values(debt=debt)
            .execution_options(synchronize_session=False)
        ).rowcount:
            moved.add(org_id)
    orgs = {a.org.id: a.org for a in accruals}
    for org_id in moved:
        set_committed_value(orgs[org_id], "debt", debts[org_id])
    for index, (accrual, result) in enumerate(zip(accruals, results, strict=True)):
        if isinstance(result, str) and accrual.org.id not in moved:
            results[index] = OrganizationClosed()
    accepted = [a for a, r in zip(accruals, results, strict=True) if isinstance(r, str)]
    if not accepted:
        return results
    now = utcnow()
    sums: dict[str, list] = {}
    for a in accepted:
        total = sums.setdefault(a.org.id, [Decimal(0), Decimal(0), 0])
        total[0] += a.amount
        total[1] += a.tax
        total[2] += a.credits
    for org_id, (amount, tax, credits) in sorted(sums.items()):
        db.session.execute(
            update(PostpaidAccount)
            .where(PostpaidAccount.organization_id == org_id)
            .values(
                unbilled=PostpaidAccount.unbilled + amount,
                unbilled_tax=PostpaidAccount.unbilled_tax + tax,
                unbilled_credits=PostpaidAccount.unbilled_credits + credits,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    _insert_charges(accepted, now)
    _draw_from_pools(accepted)
    ledger_many.post_many(
        actor,
        [
            ledger_many.Movement(
                a.org,
                [
                    Posting(SYSTEM_ACCOUNT, -a.credits, EntryType.USAGE),
                    Posting(AccountRef(AccountKind.USAGE), a.credits, EntryType.USAGE),
                ],
                reference=a.reference,
                occurred_at=a.occurred,
                entry_id=a.entry_id,
                amount=a.amount,
            )
            for a in accepted
        ],
        postpaid=True,
    )
    _count_usage(accepted)
    return results


def _draw_from_pools(accepted: list[Accrual]) -> None:
    """The accepted usage out of each reseller's wholesale pool (locked and checked by
    ``_walk``): each organization's credits in one draw, first in, first out."""
    drawn: dict[str, dict[str, int]] = {}
    for a in accepted:
        per_org = drawn.setdefault(a.org.reseller_id, {})
        per_org[a.org.id] = per_org.get(a.org.id, 0) - a.credits
    for reseller_id, changes in sorted(drawn.items()):
        wholesale.move_pool(reseller_id, list(changes.items()))


def _count_usage(accepted: list[Accrual]) -> None:
    """The accepted usage in each organization's daily totals and forecast (its row locked
    by the debt's UPDATE above)."""
    used: dict[str, tuple[Organization, list[forecast_days.Used]]] = {}
    for a in accepted:
        item = forecast_days.Used(a.occurred, a.credits, a.amount + a.tax)
        used.setdefault(a.org.id, (a.org, []))[1].append(item)
    forecast_many.count_usage_many(
        (org, items, sum(item.charged for item in items)) for org, items in used.values()
    )


def _insert_charges(accepted: list[Accrual], now: datetime) -> None:
    """The accepted usage's charges, in one INSERT (executemany)."""
    db.session.execute(
        insert(Charge),
        [
            {
                "id": charge_id,
                "reseller_id": a.org.reseller_id,
                "organization_id": a.org.id,
                "member_id": a.member_id,
                "credits": a.credits,
                "unit_price": a.unit,
                "amount": a.amount,
                "tax_percent": a.tax_percent,
                "tax": a.tax,
                "currency": a.org.currency,
                "reference": a.reference,
                "occurred_at": a.occurred,
                "created_at": now,
            }
            for a, charge_id in zip(accepted, new_ids("chg", len(accepted)), strict=True)
        ],
    )
