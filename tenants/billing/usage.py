"""Usage (sent SMS) for any organization: prepaid debits credits, postpaid accrues charges.

The API's ``POST …/usage`` and ``POST /usage`` (a batch) come through here. A usage
reference is charged once per organization (tenants.credits.references): a repeat charges
nothing and answers with the first entry.
"""

from __future__ import annotations

import enum
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from tenants.access import scoping
from tenants.access.actors import Actor
from tenants.billing.postpaid import ensure_accounts, record_postpaid_usage
from tenants.billing.postpaid_many import Accrual, accrue_many, usage_accrual
from tenants.core.bulk import one_of
from tenants.core.errors import DomainError, NotFound, ValidationFailed
from tenants.core.extensions import db
from tenants.core.types import is_record_id
from tenants.credits import ledger_many, references
from tenants.credits import operations as credit_ops
from tenants.models import Organization, PostpaidAccount, PricingModel
from tenants.models.ledger import EntryType

MAX_BATCH = 1000
# What a prepaid usage charge reads of its organization (status and pricing, the account to
# charge, the ledger's posting, alerts and automatic top-ups): record_usage_in_scope reads
# only these, as a row; the postpaid path loads the whole organization.
USAGE_COLUMNS = (
    "id",
    "reseller_id",
    "status",
    "pricing_model",
    "individual_user_credits",
    "currency",
    "timezone",  # the forecast's day (tenants.credits.forecast)
    "low_balance_alert",
    "low_balance_threshold",
    "notification_mobile",
    "auto_top_up_enabled",
    "auto_top_up_below",
    "auto_top_up_credits",
)


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
    """Charge ``credits`` SMS; InsufficientCredits (402) when credits or limit are short.
    A reference charged before charges nothing: the first entry, ``duplicate`` set.
    ``entry_type``: what the ledger calls the charge (``message`` for Send SMS).

    ``org`` may be the read-only row of scoping.organization_row (the API's hot path): a
    prepaid charge only reads it; the postpaid path gets the ORM object."""
    if org.pricing_model == PricingModel.PREPAID:
        record = credit_ops.record_usage
    else:
        record = record_postpaid_usage
        if not isinstance(org, Organization):
            org = db.session.get(Organization, org.id)
    return record(
        actor,
        org,
        credits=credits,
        reference=reference,
        account=account,
        occurred_at=occurred_at,
        claim=claim,
        entry_type=entry_type,
    )


def record_usage_in_scope(
    actor: Actor,
    org_id: str,
    *,
    credits: int,
    reference: str,
    account=None,
    occurred_at: datetime | None = None,
) -> references.Recorded:
    """record_usage for the organization ``org_id`` as the actor may see it (else 404),
    read as a row together with the reference's claim: one statement on PostgreSQL (the
    API's busiest write). Another tenant's organization is a 404 before any field is judged.
    """
    try:
        cleaned = references.clean_reference(reference)
    except ValidationFailed:
        cleaned = None  # judged after the 404, by record_usage
    if cleaned is None or not is_record_id(org_id):
        org, claim = scoping.organization_row(actor, org_id, USAGE_COLUMNS), None
    else:
        org, claim = references.claim_in_organization(
            *scoping.organization_row_query(actor, org_id, USAGE_COLUMNS), cleaned
        )
        if org is None:
            raise scoping.not_found(actor, Organization, org_id)
    return record_usage(
        actor,
        org,
        credits=credits,
        reference=reference,
        account=account,
        occurred_at=occurred_at,
        claim=claim,
    )


# -- a batch ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UsageEvent:
    organization_id: str
    credits: int
    reference: str
    account: str | None = None
    occurred_at: datetime | None = None


class EventStatus(enum.StrEnum):
    ACCEPTED = "accepted"  # charged now
    DUPLICATE = "duplicate"  # its reference was charged before: nothing charged
    REFUSED = "refused"  # nothing charged, the reference left free for a retry


@dataclass(frozen=True)
class EventResult:
    status: EventStatus
    entry_id: str | None = None
    error: DomainError | None = None


@contextmanager
def _no_collection() -> Iterator[None]:
    """The cyclic garbage collector paused for the block: a batch allocates a few hundred
    thousand short-lived objects (freed by their reference counts), and each few hundred
    allocations would otherwise start a collection over every object of the process — 15 %
    of a batch's time in the B6 profile (bench/README.md). Process-wide while it lasts (the
    portal runs sync workers: one request a process)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def record_usage_batch(actor: Actor, events: Sequence[UsageEvent]) -> list[EventResult]:
    """Record up to MAX_BATCH events in one transaction, each standing alone: one refused
    event refuses no other (its reference claim is given back), and events for one account
    apply in array order.

    The batch's references are claimed in one statement; an event whose reference was
    charged before (earlier, or by an earlier event of this batch) is a duplicate with the
    first entry's id — unless that earlier event of this batch was refused, whose refusal it
    then repeats. Concurrent batches of one reseller then take turns
    (ledger_many.queue_batch). Prepaid events are checked one by one in memory (the checks
    of the single usage, tenants.credits.operations.usage_movement) and posted set-based by
    ledger_many.post_many: accounts locked in id order, balances walked in array order, the
    ledger rows, balances and totals written in bulk, alerts and top-ups asked once per
    account. Postpaid events likewise (tenants.billing.postpaid_many):
    their account rows are locked first in id order (before the prepaid accounts: always
    that order), so concurrent batches wait for each other instead of deadlocking.
    """
    with _no_collection():
        return _record_usage_batch(actor, events)


def _record_usage_batch(actor: Actor, events: Sequence[UsageEvent]) -> list[EventResult]:
    """The body of record_usage_batch, with the garbage collector paused."""
    orgs = _organizations(actor, {event.organization_id for event in events})
    keys: list[tuple[str, str] | DomainError] = [_key(orgs, event) for event in events]
    claims = references.claim_many(
        (orgs[key[0]], key[1]) for key in keys if not isinstance(key, DomainError)
    )
    results: list[EventResult | None] = []
    first: dict[tuple[str, str], int] = {}  # reference → the index of its batch's first event
    pending: list[tuple[int, ledger_many.Movement]] = []
    accruals: list[tuple[int, Accrual]] = []
    accounts: dict = {}
    # One clock for the batch: its events that name no moment happened when it came (the
    # usage rules' clock), and share one moment (forecast_days.local_day answers them cached).
    now = credit_ops.clean_occurred_at(None)
    for index, (event, key) in enumerate(zip(events, keys, strict=True)):
        if isinstance(key, DomainError):
            results.append(EventResult(EventStatus.REFUSED, error=key))
        elif key in first:
            results.append(None)  # answered as its first event, once that is decided
        elif not claims[key].first:
            results.append(EventResult(EventStatus.DUPLICATE, entry_id=claims[key].entry_id))
        else:
            first[key] = index
            prepaid = orgs[key[0]].pricing_model == PricingModel.PREPAID
            # Checked as the single endpoint checks it, into what the batch then writes.
            check = credit_ops.usage_movement if prepaid else usage_accrual
            try:
                checked = check(
                    actor,
                    orgs[key[0]],
                    credits=event.credits,
                    reference=key[1],
                    claim=claims[key],
                    account=event.account,
                    occurred_at=event.occurred_at,
                    now=now,
                    **({"accounts": accounts} if prepaid else {"cache": accounts}),
                )
            except DomainError as error:
                results.append(EventResult(EventStatus.REFUSED, error=error))
            else:
                results.append(None)
                (pending if prepaid else accruals).append((index, checked))
    # The checks above read and lock nothing, nor does planning the postings; now, after
    # the claims (which wait for nothing a batch in its turn holds) and before any lock,
    # the batch waits for its turn.
    movements = [movement for _, movement in pending]
    planned = ledger_many.plan(actor, movements) if movements else None
    ledger_many.queue_batch({item.org.reseller_id for _, item in pending + accruals})
    _lock_postpaid_accounts(list({a.org.id: a.org for _, a in accruals}.values()))
    # Prepaid first: its holding accounts are locked before the postpaid usage locks the
    # resellers' wholesale pools, the last lock of every movement (tenants.wholesale).
    posted = ledger_many.post_many(actor, movements, planned=planned)
    accrued = accrue_many(actor, [accrual for _, accrual in accruals])
    for (index, _item), outcome in zip(accruals + pending, accrued + posted, strict=True):
        results[index] = (
            EventResult(EventStatus.REFUSED, error=outcome)
            if isinstance(outcome, DomainError)
            else EventResult(EventStatus.ACCEPTED, entry_id=outcome)
        )
    for index, key in enumerate(keys):
        if results[index] is None:
            results[index] = _repeat(results[first[key]])
    references.release(key for key, index in first.items() if results[index].error is not None)
    return results


# What a batch's prepaid event, its alerts, top-up and forecast read of the organization:
# the single charge's columns and the stored forecast window (its sums gain the batch's
# usage in place, tenants.credits.forecast_many). Read as rows: a batch reads hundreds, and
# making ORM objects of them cost more than the rest of its checks (bench/README.md, B6).
BATCH_COLUMNS = (*USAGE_COLUMNS, "forecast_window_start")


def _organizations(actor: Actor, ids: set[str]) -> dict:
    """The organizations the actor may use among ``ids``, in one query, as read-only rows
    (postpaid ones then loaded as ORM objects in a second: their usage reads prices, country
    and limit, and keeps their debt). A string that is no record id (a NUL, another format)
    names none; the database is not asked about it."""
    ids = {value for value in ids if is_record_id(value)}
    if not ids:
        return {}
    rows = db.session.execute(scoping.organization_rows_query(actor, ids, BATCH_COLUMNS))
    orgs = {row.id: row for row in rows}
    postpaid = [org_id for org_id, org in orgs.items() if org.pricing_model != PricingModel.PREPAID]
    if postpaid:
        orgs.update(
            (org.id, org)
            for org in db.session.scalars(select(Organization).where(Organization.id.in_(postpaid)))
        )
    return orgs


def _key(orgs: dict[str, Organization], event: UsageEvent) -> tuple[str, str] | DomainError:
    """The event's (organization, reference), or why it is refused before anything else."""
    if event.organization_id not in orgs:
        return NotFound()
    try:
        return event.organization_id, references.clean_reference(event.reference)
    except ValidationFailed as error:
        return error


def _lock_postpaid_accounts(orgs: list[Organization]) -> None:
    """Lock the postpaid organizations' account rows (created if missing) in id order,
    before the prepaid holding accounts (ledger_many.post_many): always that order."""
    if not orgs:
        return
    ensure_accounts(orgs)
    db.session.execute(
        select(PostpaidAccount.organization_id)
        .where(one_of(PostpaidAccount.organization_id, sorted(org.id for org in orgs)))
        .order_by(PostpaidAccount.organization_id)
        .with_for_update()
    ).all()


def _repeat(first: EventResult) -> EventResult:
    """A second event of the batch with the reference of an earlier one: its answer."""
    if first.status == EventStatus.REFUSED:
        return first
    return EventResult(EventStatus.DUPLICATE, entry_id=first.entry_id)
