"""Batch usage (tenants.billing.usage.record_usage_batch) when events are refused in the
batch's turn -- credits short, or the organization deleted after the batch read it and
before its turn: nothing of a refused event is written (no posting, no day total, no
total), every transaction balances, an alert is asked once, a refused reference is free."""

from __future__ import annotations

import sqlalchemy as sa

from tenants.access.actors import SYSTEM
from tenants.billing.usage import EventStatus, UsageEvent, record_usage_batch
from tenants.core.extensions import db
from tenants.credits import ledger_many
from tenants.jobs.outbox import commit
from tenants.models import LedgerEntry, Organization, OrganizationStatus, QueuedJob
from tenants.models.ledger import AccountKind, EntryType
from tests.credits.conftest import day_totals, fund, system_credits


def _postings(kind: AccountKind) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(LedgerEntry)
        .where(LedgerEntry.type == EntryType.USAGE, LedgerEntry.account_kind == kind)
    )


def _balanced_usage() -> list[tuple[str, int, int]]:
    """(reference, postings, sum) of each usage transaction."""
    return db.session.execute(
        sa.select(LedgerEntry.reference, sa.func.count(), sa.func.sum(LedgerEntry.credits))
        .where(LedgerEntry.type == EntryType.USAGE)
        .group_by(LedgerEntry.transaction_id, LedgerEntry.reference)
        .order_by(LedgerEntry.reference)
    ).all()


def _alerted(org: Organization, threshold: int) -> None:
    org.low_balance_alert, org.low_balance_threshold = True, threshold
    commit()


def _low_balance_jobs() -> int:
    """Low-balance emails queued (the outbox's rows): a turn taken again asks for none twice."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QueuedJob)
        .where(QueuedJob.name == "send_low_balance_email")
    )


def _at_the_turn(monkeypatch, action) -> list:
    """Run ``action`` as the batch takes its turn (ledger_many.queue_batch); what it
    answered, each time."""
    seen = []
    queue = ledger_many.queue_batch

    def queued(resellers):
        seen.append(action())
        queue(resellers)

    monkeypatch.setattr(ledger_many, "queue_batch", queued)
    return seen


def test_an_event_refused_in_the_turn_leaves_nothing_of_it(create_organization, monkeypatch):
    org = create_organization(name="Short")
    _alerted(org, 3)
    fund(org, 5)
    seen = _at_the_turn(monkeypatch, lambda: _postings(AccountKind.USAGE))  # none before it
    events = [
        UsageEvent(org.id, 3, "short-a"),
        UsageEvent(org.id, 3, "short-b"),  # 2 left: refused
        UsageEvent(org.id, 2, "short-c"),
    ]
    results = record_usage_batch(SYSTEM, events)
    commit()
    statuses = [r.status for r in results]
    assert statuses == [EventStatus.ACCEPTED, EventStatus.REFUSED, EventStatus.ACCEPTED]
    assert results[1].error.code == "insufficient_credits"
    assert seen == [0]
    assert _balanced_usage() == [("short-a", 2, 0), ("short-c", 2, 0)]
    assert system_credits(org) == 0
    assert _low_balance_jobs() == 1  # 5 -> 0 crossed 3 once
    # The refused reference is free: sent again with credits, it is charged.
    fund(org, 3)
    assert record_usage_batch(SYSTEM, [events[1]])[0].status == EventStatus.ACCEPTED
    commit()
    assert system_credits(org) == 0


def test_an_organization_deleted_before_the_turn_moves_nothing(create_organization, monkeypatch):
    gone, kept = create_organization(name="Gone"), create_organization(name="Kept")
    _alerted(kept, 8)
    fund(gone, 10)
    fund(kept, 10)

    def delete_once() -> None:
        # Deleted by another request after this batch read it, before its turn.
        db.session.execute(
            sa.update(Organization)
            .where(Organization.id == gone.id, Organization.status != OrganizationStatus.DELETED)
            .values(status=OrganizationStatus.DELETED)
            .execution_options(synchronize_session=False)
        )

    _at_the_turn(monkeypatch, delete_once)
    events = [UsageEvent(gone.id, 4, "gone-1"), UsageEvent(kept.id, 4, "kept-1")]
    results = record_usage_batch(SYSTEM, events)
    commit()
    assert [r.status for r in results] == [EventStatus.REFUSED, EventStatus.ACCEPTED]
    assert _balanced_usage() == [("kept-1", 2, 0)]
    assert (system_credits(gone), system_credits(kept)) == (10, 6)
    days = day_totals()
    assert days.get(gone.id, 0) == 0 and days[kept.id] == 4
    assert db.session.get(Organization, kept.id).forecast_usage_7d == 4
    assert db.session.get(Organization, gone.id).total_credits == 10
    assert _low_balance_jobs() == 1  # 10 -> 6 crossed 8 once
